import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseCommandArgs } from '../../lib/cli-args.js';
import { configReference } from './config-doc.js';

/** `nrec docs-gen [FILE]`: writes the configuration reference to FILE (that file only). */
export async function main(argv: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(argv, { options: {}, positionals: ['FILE'] });
  const path = resolve(positionals[0] ?? 'docs/configuration.md');
  await writeFile(path, configReference());
  process.stdout.write(`wrote ${path}\n`);
  return 0;
}
