import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The release this code runs from: the directory above dist/ (a bundle's root, or the source tree). */
export interface ReleaseInfo {
  dir: string;
  version: string;
}

let cached: ReleaseInfo | undefined;

/** Reads the release's package.json once; the bundle writes its own version there. */
export function currentRelease(): ReleaseInfo {
  if (cached !== undefined) return cached;
  // This file is dist/agent/service/release.js once compiled.
  const dir = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // No package.json beside dist/: an unusual layout; the version stays unknown rather than failing the agent.
  }
  cached = { dir, version };
  return cached;
}
