import { constants } from 'node:fs';
import { access, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes sure the agent can keep its state: the data directory exists (0700)
 * and a file can be created, written and synced in it. Throws naming the
 * directory, the user and what to do; the agent must not start without it,
 * since nothing it records would survive.
 */
export async function ensureDataDir(dir: string): Promise<void> {
  const who = `uid ${process.getuid?.() ?? '?'}`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(`dataDir ${dir} cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}) by ${who}: create it owned by the agent's user, or set dataDir in the config`);
  }
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    const f = await open(probe, 'w', 0o600);
    try {
      await f.write('ok');
      await f.sync();
    } finally {
      await f.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const fix = code === 'ENOSPC' ? 'free space on its filesystem' : code === 'EROFS' ? 'its filesystem is read-only: use a writable one' : `make it writable by ${who} (chown it to the agent's user)`;
    throw new Error(`dataDir ${dir} is not writable (${code}): ${fix}`);
  } finally {
    await unlink(probe).catch(() => undefined);
  }
}
