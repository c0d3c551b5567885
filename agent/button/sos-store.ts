import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { isSosState, type SosState, type SosStore } from './sos-machine.js';

/** Bytes per slot; the file holds two. A state is ~250 bytes of JSON. */
export const SOS_SLOT_BYTES = 2048;
const FILE_BYTES = 2 * SOS_SLOT_BYTES;

/**
 * Keeps the SOS state in a preallocated file of fixed size, overwritten in place
 * (pwrite + fsync), so saving it never needs a new disk block: on a full disk
 * (the disk filled by an SOS recording, say) the alarm's state is still saved.
 * A rename-based atomic write needs a free block for every save.
 *
 * Two slots, each a JSON line `{"gen":N,"state":{...},"sha256":...}` padded with
 * spaces: a save writes the slot the latest state is not in, so a power cut in
 * the middle of a write tears at most that slot and the other still holds the
 * state before it; load takes the valid slot with the highest generation. The
 * file is created full size (zeros, fsync, directory fsync) when the store is
 * opened, at start-up, while there is room. The file system must overwrite in
 * place (ext4, tmpfs; not a copy-on-write one such as btrfs or ZFS).
 *
 * Synchronous on purpose: a transition is not announced until it is on disk, and
 * the write is one block.
 */
export class FileSosStore implements SosStore {
  readonly path: string;
  readonly #legacyPath: string | undefined;
  #fd: number | undefined;
  #gen = 0;

  /** `legacyPath`: the JSON file of earlier versions, migrated into this one on first load and removed. */
  constructor(path: string, legacyPath?: string) {
    this.path = path;
    this.#legacyPath = legacyPath;
  }

  /**
   * The state on disk; undefined if there is none. Creates the preallocated file if it is
   * missing. Throws, naming the file, if neither slot holds a valid state.
   */
  load(): SosState | undefined {
    const fd = this.#open();
    const buf = Buffer.alloc(FILE_BYTES);
    const n = readSync(fd, buf, 0, FILE_BYTES, 0);
    let best: { gen: number; state: SosState } | undefined;
    let damaged = 0;
    for (let slot = 0; slot < 2; slot++) {
      const raw = buf.subarray(slot * SOS_SLOT_BYTES, Math.min(n, (slot + 1) * SOS_SLOT_BYTES));
      if (raw.every((b) => b === 0)) continue; // never written
      const s = parseSlot(raw);
      if (s === undefined) {
        damaged++;
        continue;
      }
      if (best === undefined || s.gen > best.gen) best = s;
    }
    if (best !== undefined) {
      this.#gen = best.gen;
      return best.state;
    }
    const legacy = this.#loadLegacy();
    if (legacy !== undefined) return legacy;
    if (damaged > 0) throw new Error(`SOS state ${this.path} holds no valid state (${damaged} damaged slot${damaged > 1 ? 's' : ''})`);
    return undefined;
  }

  /** Writes the state durably, in place: never allocates. */
  save(state: SosState): void {
    const fd = this.#open();
    const gen = this.#gen + 1;
    const slot = gen % 2;
    writeSync(fd, encodeSlot(gen, state), 0, SOS_SLOT_BYTES, slot * SOS_SLOT_BYTES);
    fsyncSync(fd);
    this.#gen = gen;
  }

  /** Closes the file; a later load or save opens it again. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Opens the file, creating it full size first (while there is room, at start-up). */
  #open(): number {
    if (this.#fd !== undefined) return this.#fd;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const size = fstatSync(fd).size;
      if (size < FILE_BYTES) {
        // Zeros, not a sparse hole: the blocks must be allocated now for the in-place writes to need none.
        writeSync(fd, Buffer.alloc(FILE_BYTES - size), 0, FILE_BYTES - size, size);
        fsyncSync(fd);
        fsyncDirSync(dirname(this.path));
      }
    } catch (err) {
      closeSync(fd);
      throw new Error(`cannot preallocate SOS state ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    this.#fd = fd;
    return fd;
  }

  /** Reads the state an earlier version kept as plain JSON, saves it here and removes the old file. */
  #loadLegacy(): SosState | undefined {
    const p = this.#legacyPath;
    if (p === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read SOS state ${p}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`SOS state ${p} is not JSON: ${(err as Error).message}`);
    }
    if (!isSosState(parsed)) throw new Error(`SOS state ${p} does not hold a valid state: ${text.slice(0, 200)}`);
    this.save(parsed);
    unlinkSync(p);
    fsyncDirSync(dirname(p));
    return parsed;
  }
}

function digest(gen: number, stateJson: string): string {
  return createHash('sha256').update(`${gen}:${stateJson}`).digest('hex');
}

function encodeSlot(gen: number, state: SosState): Buffer {
  const stateJson = JSON.stringify(state);
  const line = `{"gen":${gen},"state":${stateJson},"sha256":"${digest(gen, stateJson)}"}`;
  const buf = Buffer.alloc(SOS_SLOT_BYTES, 0x20);
  const n = buf.write(line, 0, 'utf8');
  if (n !== Buffer.byteLength(line) || n >= SOS_SLOT_BYTES) throw new Error(`SOS state is ${Buffer.byteLength(line)} bytes, more than a slot of ${SOS_SLOT_BYTES - 1}`);
  buf[SOS_SLOT_BYTES - 1] = 0x0a;
  return buf;
}

function parseSlot(raw: Buffer): { gen: number; state: SosState } | undefined {
  try {
    const o = JSON.parse(raw.toString('utf8').trimEnd()) as { gen?: unknown; state?: unknown; sha256?: unknown };
    if (typeof o.gen !== 'number' || !Number.isSafeInteger(o.gen) || o.gen < 1 || !isSosState(o.state)) return undefined;
    if (o.sha256 !== digest(o.gen, JSON.stringify(o.state))) return undefined;
    return { gen: o.gen, state: o.state };
  } catch {
    return undefined; // a torn write: the other slot holds the state before it
  }
}

function fsyncDirSync(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
