import { readlink, rename, symlink, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fsyncDir } from '../../lib/atomic-write.js';

/**
 * Where an installation lives, under a root ("/" on a recorder, a temp
 * directory in tests, a mounted SD card when preparing one):
 *   /opt/nrec/releases/<version>/   one unpacked bundle each, read-only to the agent
 *   /opt/nrec/current -> releases/<version>   what the service runs
 *   /opt/nrec/previous -> releases/<version>  what a rollback returns to
 *   /etc/nrec/config.json, release-key.pem     configuration, never overwritten
 *   /var/lib/nrec/                              state: outbox, keys, chunks, update/
 * scripts/install.sh writes the same layout.
 */
export interface Layout {
  root: string;
  opt: string;
  releases: string;
  current: string;
  previous: string;
  etc: string;
  config: string;
  releaseKey: string;
  state: string;
  updateDir: string;
}

export function layoutFor(root = '/'): Layout {
  const opt = join(root, 'opt', 'nrec');
  const etc = join(root, 'etc', 'nrec');
  const state = join(root, 'var', 'lib', 'nrec');
  return {
    root, opt, etc, state,
    releases: join(opt, 'releases'),
    current: join(opt, 'current'),
    previous: join(opt, 'previous'),
    config: join(etc, 'config.json'),
    releaseKey: join(etc, 'release-key.pem'),
    updateDir: join(state, 'update'),
  };
}

/** The version a link (current or previous) points at, or undefined. */
export async function linkedVersion(link: string): Promise<string | undefined> {
  const target = await readlink(link).catch(() => undefined);
  return target === undefined ? undefined : basename(target);
}

/**
 * Points `link` at releases/<version> atomically: a new symlink beside it is
 * renamed over the old one (rename(2) replaces in one step), so a power cut
 * leaves the old or the new target, never none. Relative targets keep an
 * installation under --root movable.
 */
export async function pointLink(l: Layout, link: string, version: string): Promise<void> {
  const tmp = `${link}.tmp-${process.pid}`;
  await unlink(tmp).catch(() => undefined);
  await symlink(join('releases', version), tmp);
  await rename(tmp, link);
  await fsyncDir(l.opt);
}
