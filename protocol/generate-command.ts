import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { publishedFiles } from './published.js';

/** `nrec protocol-gen [dir]`: writes the published JSON Schemas and AsyncAPI document. */
export async function main(argv: string[]): Promise<number> {
  const dir = resolve(argv[0] ?? 'protocol/published');
  await mkdir(dir, { recursive: true });
  const files = publishedFiles();
  for (const f of await readdir(dir)) if (!(f in files)) await rm(join(dir, f));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  process.stdout.write(`wrote ${Object.keys(files).length} files to ${dir}\n`);
  return 0;
}
