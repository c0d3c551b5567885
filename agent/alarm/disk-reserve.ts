import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface DiskReserveOptions {
  /** Size of the reserve (bytes). */
  bytes: number;
  /** What one release gives back (default a quarter of the reserve, at least 256 KiB): an outage can need several. */
  sliceBytes?: number;
}

/** What `release` did. */
export interface ReleaseResult {
  freedBytes: number;
  heldBytes: number;
}

const WRITE_BLOCK = 256 * 1024;

/**
 * Disk space kept for the alarm path: a file of zeros in the data directory,
 * written (allocated, not sparse) while there is room. When an alarm cannot
 * be stored because the disk is full, the alarm side calls `release()`, which
 * shrinks the file by one slice so the outbox's next commit finds free blocks;
 * `refill()` grows it back once the disk has room again. Media capture treats
 * the reserve as taken even while released (see `releasedBytes`), so an SOS
 * recording cannot eat the space it gave up.
 *
 * Synchronous file calls: it runs on the alarm path, where an await would let
 * other puts (locations, media) take the freed blocks first.
 */
export class DiskReserve {
  readonly path: string;
  readonly bytes: number;
  readonly #slice: number;
  #held = 0;

  constructor(path: string, o: DiskReserveOptions) {
    if (!Number.isInteger(o.bytes) || o.bytes < 0) throw new Error(`disk reserve size must be a non-negative integer, got ${o.bytes}`);
    this.path = path;
    this.bytes = o.bytes;
    this.#slice = o.sliceBytes ?? Math.max(256 * 1024, Math.ceil(o.bytes / 4));
    this.#held = this.#size();
  }

  /** Bytes the reserve file holds now. */
  get heldBytes(): number {
    return this.#held;
  }

  /** Bytes given up (or never allocated) that the alarm path may be using: nobody else's to fill. */
  get releasedBytes(): number {
    return Math.max(0, this.bytes - this.#held);
  }

  /**
   * Grows the file back to its full size while the filesystem has room beyond `keepFreeBytes`;
   * returns the bytes it holds. Stops (keeping what it wrote) at ENOSPC; never throws for space.
   */
  async refill(keepFreeBytes = 0): Promise<number> {
    const missing = this.bytes - this.#held;
    if (missing <= 0) return this.#held;
    let free: number;
    try {
      const s = await statfs(dirname(this.path));
      free = s.bavail * s.bsize;
    } catch {
      return this.#held;
    }
    const want = Math.min(missing, Math.max(0, free - keepFreeBytes));
    if (want <= 0) return this.#held;
    const fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT, 0o600);
    try {
      const zeros = Buffer.alloc(Math.min(WRITE_BLOCK, want));
      let at = fstatSync(fd).size;
      const end = at + want;
      try {
        while (at < end) {
          const n = writeSync(fd, zeros, 0, Math.min(zeros.length, end - at), at);
          at += n;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
      fsyncSync(fd);
      this.#held = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
    return this.#held;
  }

  /** Gives one slice back to the filesystem (at once, synchronously); returns what was freed. */
  release(): ReleaseResult {
    if (this.#held === 0) return { freedBytes: 0, heldBytes: 0 };
    const next = Math.max(0, this.#held - this.#slice);
    const fd = openSync(this.path, constants.O_WRONLY);
    try {
      ftruncateSync(fd, next);
      // The freed blocks must not come back after a power cut while the alarm that needed them is stored.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const freedBytes = this.#held - next;
    this.#held = next;
    return { freedBytes, heldBytes: next };
  }

  #size(): number {
    try {
      const fd = openSync(this.path, constants.O_RDONLY);
      try {
        return fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
    } catch {
      return 0;
    }
  }
}
