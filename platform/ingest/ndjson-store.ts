import { closeSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Accepted messages, one NDJSON file per device and stream:
 *   <root>/<deviceId>/<stream>.ndjson   lines: {"rx": <receipt ms>, "topic": ..., "m": <message>}
 *
 * Durability policy: each line is written with a synchronous write(2) before
 * the broker gets its PUBACK, so a crash of the ingest process loses nothing
 * (the bytes are in the kernel). Alarms are fdatasync'ed before the PUBACK;
 * everything else is fdatasync'ed at most `syncEveryMs` later, which bounds
 * what a power cut of the ingest host could lose to that window. (mqtt.js
 * handles incoming packets one at a time, so an fsync per message would cap
 * ingest at the disk's fsync rate.)
 */
export class NdjsonStore {
  readonly root: string;
  readonly #fds = new Map<string, number>();
  readonly #dirty = new Set<number>();
  readonly #seen = new Map<string, Set<string>>();
  readonly #timer: NodeJS.Timeout;

  constructor(root: string, syncEveryMs = 200) {
    this.root = root;
    mkdirSync(root, { recursive: true });
    this.#loadSeen();
    this.#timer = setInterval(() => this.sync(), syncEveryMs);
    this.#timer.unref();
  }

  /** Rebuilds the set of stored message ids, so redeliveries after a restart are recognised. */
  #loadSeen(): void {
    for (const device of readdirSync(this.root, { withFileTypes: true })) {
      if (!device.isDirectory() || device.name.startsWith('_')) continue;
      const seen = this.#seenFor(device.name);
      for (const f of readdirSync(join(this.root, device.name))) {
        if (!f.endsWith('.ndjson')) continue;
        for (const line of readFileSync(join(this.root, device.name, f), 'utf8').split('\n')) {
          if (line === '') continue;
          try {
            const id = (JSON.parse(line) as { m?: { id?: unknown } }).m?.id;
            if (typeof id === 'string') seen.add(id);
          } catch {
            // A torn last line from a power cut; the message will be redelivered and stored again.
          }
        }
      }
    }
  }

  #seenFor(deviceId: string): Set<string> {
    let s = this.#seen.get(deviceId);
    if (s === undefined) {
      s = new Set();
      this.#seen.set(deviceId, s);
    }
    return s;
  }

  /** True when this device's message id is already stored. */
  has(deviceId: string, id: string): boolean {
    return this.#seen.get(deviceId)?.has(id) ?? false;
  }

  #fd(deviceId: string, stream: string): number {
    const key = `${deviceId}/${stream}`;
    let fd = this.#fds.get(key);
    if (fd === undefined) {
      mkdirSync(join(this.root, deviceId), { recursive: true });
      fd = openSync(join(this.root, deviceId, `${stream}.ndjson`), 'a');
      this.#fds.set(key, fd);
    }
    return fd;
  }

  /** Appends one message; returns false (and writes nothing) for a duplicate id. */
  append(deviceId: string, stream: string, topic: string, message: { id: string }, opts: { sync?: boolean } = {}): boolean {
    const seen = this.#seenFor(deviceId);
    if (seen.has(message.id)) return false;
    const fd = this.#fd(deviceId, stream);
    writeSync(fd, `${JSON.stringify({ rx: Date.now(), topic, m: message })}\n`);
    if (opts.sync === true) fdatasyncSync(fd);
    else this.#dirty.add(fd);
    seen.add(message.id);
    return true;
  }

  /** Appends a rejected input with its reason to <root>/_rejected.ndjson (payload truncated). */
  reject(topic: string, reason: string, payload: Buffer): void {
    const fd = this.#fd('_rejected', 'rejected');
    writeSync(fd, `${JSON.stringify({ rx: Date.now(), topic, reason, payload: payload.subarray(0, 512).toString('utf8') })}\n`);
    this.#dirty.add(fd);
  }

  /** fdatasyncs every file written since the last sync. */
  sync(): void {
    for (const fd of this.#dirty) fdatasyncSync(fd);
    this.#dirty.clear();
  }

  close(): void {
    clearInterval(this.#timer);
    this.sync();
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }
}

/** Reads back a device stream's stored messages (for tests, tools and the simulator's summary). */
export function readStream<T = Record<string, unknown>>(root: string, deviceId: string, stream: string): Array<{ rx: number; topic: string; m: T }> {
  const path = join(root, deviceId, `${stream}.ndjson`);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { rx: number; topic: string; m: T });
}
