import { spawnSync } from 'node:child_process';
import { mkdir, open, rm, rmdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/** A real, small filesystem (a tmpfs) mounted by a test, to fill up for real. */
export interface SmallFs {
  readonly path: string;
  /** Bytes available on it now (statfs). */
  freeBytes(): Promise<number>;
  /** Writes a filler file until the filesystem refuses (ENOSPC); resolves with the bytes written. */
  fill(name?: string): Promise<number>;
  /** Removes the filler files. */
  unfill(): Promise<void>;
  /** Unmounts and removes the mount point; idempotent. */
  unmount(): Promise<void>;
}

/**
 * Mounts a tmpfs of `sizeBytes` at `dir` (created if missing). Needs root, as CI
 * runs the tests; without it the test fails saying so (a full disk cannot be
 * faked honestly).
 */
export async function mountSmallFs(dir: string, sizeBytes: number): Promise<SmallFs> {
  if (process.getuid?.() !== 0) throw new Error(`mounting a ${sizeBytes}-byte tmpfs at ${dir} needs root: run the tests as root (CI does), e.g. sudo npx vitest run <file>`);
  await mkdir(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t tmpfs at ${dir} failed: ${r.stderr || r.error?.message}`);
  const fillers: string[] = [];
  let mounted = true;
  return {
    path: dir,
    async freeBytes() {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    },
    async fill(name = `filler-${fillers.length}`) {
      const path = join(dir, name);
      fillers.push(path);
      const fh = await open(path, 'w');
      const block = Buffer.alloc(64 * 1024, 0xa5);
      let written = 0;
      let small = false;
      try {
        for (;;) {
          // Small blocks at the end so the last few KiB are taken too.
          const chunk = small ? block.subarray(0, 4096) : block;
          try {
            const { bytesWritten } = await fh.write(chunk);
            written += bytesWritten;
            if (bytesWritten < chunk.length) small = true;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            if (small) break;
            small = true;
          }
        }
      } finally {
        await fh.close();
      }
      return written;
    },
    async unfill() {
      for (const f of fillers.splice(0)) await rm(f, { force: true });
    },
    async unmount() {
      if (!mounted) return;
      const u = spawnSync('umount', ['-l', dir], { encoding: 'utf8' });
      if (u.status !== 0) throw new Error(`umount ${dir} failed: ${u.stderr}`);
      mounted = false;
      await rmdir(dir).catch(() => undefined);
    },
  };
}
