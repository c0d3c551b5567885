import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes via temp file + fsync + rename + dir fsync, so a crash leaves the old file or the new one. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await unlink(tmp).catch(() => undefined);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask may have narrowed it; never widened beyond `mode`
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dirname(path), 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
