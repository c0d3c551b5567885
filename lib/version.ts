import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The release version, from the package.json this code belongs to (one place:
 * the bundle, `nrec --version` and the agent's status messages all say the same).
 * Found by walking up from this file, so it holds in the source tree, in dist/
 * and in an installed release.
 */
function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nrec' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; look one level up
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}

export const NREC_VERSION = readVersion();
