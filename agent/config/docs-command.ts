import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { configReference } from './config-doc.js';

/** `nrec docs-gen [file]`: writes the configuration reference. */
export async function main(argv: string[]): Promise<number> {
  const path = resolve(argv[0] ?? 'docs/configuration.md');
  await writeFile(path, configReference());
  process.stdout.write(`wrote ${path}\n`);
  return 0;
}
