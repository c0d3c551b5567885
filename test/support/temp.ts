import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp dir owned by one test; remove() is idempotent. */
export interface TempDir {
  readonly path: string;
  file(name: string): string;
  remove(): Promise<void>;
}

/** Makes a fresh temp dir under the OS temp dir. */
export async function makeTempDir(prefix = 'nrec-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rm(path, { recursive: true, force: true }),
  };
}
