import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseCommandArgs } from '../lib/cli-args.js';
import { publishedFiles } from './published.js';

/** Lists the files the generator wrote into a directory, so a later run removes only its own stale files. */
export const MANIFEST = '.generated';

/**
 * `nrec protocol-gen [DIR]`: writes the published JSON Schemas and AsyncAPI
 * document. It removes a file only when its own manifest says it wrote it and
 * it is no longer published; whatever else is in DIR is left alone.
 */
export async function main(argv: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(argv, { options: {}, positionals: ['DIR'] });
  const dir = resolve(positionals[0] ?? 'protocol/published');
  const written = await generateInto(dir);
  process.stdout.write(`wrote ${written.length} files to ${dir}\n`);
  return 0;
}

/** Writes the published documents into `dir`; returns their names. */
export async function generateInto(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = publishedFiles();
  const names = Object.keys(files).sort();
  const before = await readFile(join(dir, MANIFEST), 'utf8').then((t) => t.split('\n').filter((n) => n !== '' && !n.includes('/')), () => [] as string[]);
  for (const old of before) if (!(old in files)) await rm(join(dir, old), { force: true });
  for (const name of names) await writeFile(join(dir, name), files[name]);
  await writeFile(join(dir, MANIFEST), `${names.join('\n')}\n`);
  return names;
}
