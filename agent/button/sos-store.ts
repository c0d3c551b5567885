import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { isSosState, type SosState, type SosStore } from './sos-machine.js';

/**
 * Keeps the SOS state in one JSON file, replaced atomically (write temp, fsync,
 * rename, fsync the directory) so a power cut leaves either the old or the new
 * state, never a torn one. Synchronous on purpose: a transition is not
 * announced until it is on disk, and the file is a few hundred bytes.
 */
export class FileSosStore implements SosStore {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  /** The state on disk; undefined if there is none. Throws, naming the file, if it is unreadable or malformed. */
  load(): SosState | undefined {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read SOS state ${this.#path}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`SOS state ${this.#path} is not JSON: ${(err as Error).message}`);
    }
    if (!isSosState(parsed)) throw new Error(`SOS state ${this.#path} does not hold a valid state: ${text.slice(0, 200)}`);
    return parsed;
  }

  /** Writes the state durably. */
  save(state: SosState): void {
    const dir = dirname(this.#path);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${basename(this.#path)}.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(state) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}
