import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { makeTempDir, type TempDir } from './temp.js';

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout.trim();
}

/**
 * A small real ext4 file system on a loop device, mounted with
 * errors=remount-ro (Debian's default for its root file system), for tests of
 * what a store does when its disk fills up or turns read-only under it.
 * Needs root (CI runs as root), mount, mkfs.ext4 and loop devices.
 * `mount -o loop` sets autoclear, so the loop device goes with the unmount.
 */
export class LoopFs {
  readonly dir: TempDir;
  /** The mount point. */
  readonly path: string;
  readonly #image: string;
  #mounted = false;
  #filler: string | undefined;

  private constructor(dir: TempDir) {
    this.dir = dir;
    this.#image = dir.file('fs.img');
    this.path = dir.file('mnt');
  }

  static async create(sizeMiB = 16): Promise<LoopFs> {
    if (process.getuid?.() !== 0) throw new Error('LoopFs needs root (it mounts a loop device); CI runs as root');
    for (const tool of ['mkfs.ext4', 'e2fsck', 'mount', 'findmnt']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`required tool "${tool}" is not installed; install it with: apt-get install -y e2fsprogs util-linux`);
    }
    const fs = new LoopFs(await makeTempDir('nrec-loopfs-'));
    try {
      run('truncate', ['-s', `${sizeMiB}M`, fs.#image]);
      run('mkfs.ext4', ['-q', '-F', fs.#image]);
      mkdirSync(fs.path);
      fs.mount();
      return fs;
    } catch (err) {
      await fs.dispose().catch(() => undefined);
      throw err;
    }
  }

  /** Mounts the image (again): after remount-ro the journal is replayed and the file system checked first. */
  mount(): void {
    run('mount', ['-o', 'loop,errors=remount-ro', this.#image, this.path]);
    this.#mounted = true;
  }

  /** Unmounts; everything on it must be closed. */
  unmount(): void {
    if (!this.#mounted) return;
    run('umount', [this.path]);
    this.#mounted = false;
  }

  /** Fills the file system with a file until the kernel says ENOSPC (root's reserve included), fsynced. */
  fill(): void {
    const filler = join(this.path, 'filler');
    const fd = openSync(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 0xaa);
    try {
      for (;;) {
        try {
          writeSync(fd, block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
      // What is left below a 64 KiB block, in 4 KiB steps.
      for (;;) {
        try {
          writeSync(fd, block, 0, 4096);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
      try {
        fsyncSync(fd);
      } catch {
        // Delayed allocation may report ENOSPC here as well: the disk is full either way.
      }
    } finally {
      closeSync(fd);
    }
    this.#filler = filler;
  }

  /** Removes the filler. */
  free(): void {
    if (this.#filler !== undefined) rmSync(this.#filler, { force: true });
    this.#filler = undefined;
  }

  /**
   * Makes the kernel treat the file system as failed: with errors=remount-ro
   * it turns read-only at once, open files included (a plain `mount -o
   * remount,ro` is refused while a file is open for writing, and as root
   * chmod changes nothing).
   */
  failReadOnly(): void {
    const dev = basename(run('findmnt', ['-n', '-o', 'SOURCE', this.path]));
    run('sh', ['-c', `echo 1 > /sys/fs/ext4/${dev}/trigger_fs_error`]);
    const opts = run('findmnt', ['-n', '-o', 'OPTIONS', this.path]);
    if (!opts.split(',').includes('ro') && !opts.includes('emergency_ro')) throw new Error(`file system at ${this.path} did not turn read-only (options: ${opts})`);
  }

  /** After failReadOnly(): unmount, check and repair (e2fsck -fy), mount again read-write. */
  repair(): void {
    this.unmount();
    const r = spawnSync('e2fsck', ['-fy', this.#image], { encoding: 'utf8' });
    // 0: clean, 1: errors corrected; anything above is a failure.
    if (r.status === null || r.status > 1) throw new Error(`e2fsck failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`);
    this.mount();
  }

  async dispose(): Promise<void> {
    if (this.#mounted) {
      const r = spawnSync('umount', [this.path]);
      // Something still open on it: detach lazily so the test run does not leave a mount behind.
      if (r.status !== 0) spawnSync('umount', ['-l', this.path]);
      this.#mounted = false;
    }
    await this.dir.remove();
  }
}
