import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId } from '../../../protocol/index.js';
import { chunkRecordValidator, type ChunkRecord, type Manifest } from '../../../protocol/media.js';
import { writeFileAtomic } from '../../../lib/atomic-write.js';
import { checkBytes, continuity, type ChainTip } from './chunk-verify.js';

export const CHAIN_FILE = 'chain.ndjson';
export const MANIFEST_FILE = 'manifest.json';

/** Stored name of a chunk's bytes. */
export function chunkFileName(index: number): string {
  return `chunk-${String(index).padStart(6, '0')}.ts`;
}

export type StoreResult = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Evidence on disk: `<root>/<deviceId>/<sessionId>/` holds the chunk files,
 * `chain.ndjson` (one chunk record per line, in chain order) and
 * `manifest.json`. Every file is replaced atomically; a chunk's bytes land
 * before its chain line, so the chain never names a missing file. Writes to
 * one session are serialized.
 */
export class EvidenceStore {
  readonly root: string;
  readonly #chains = new Map<string, ChunkRecord[]>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(root: string) {
    this.root = root;
  }

  /** Directory of one session; ids are checked so they cannot climb out of the store. */
  sessionDir(deviceId: string, sessionId: string): string {
    if (!isValidId(deviceId) || !isValidId(sessionId)) throw new Error(`invalid device or session id "${deviceId}/${sessionId}"`);
    return join(this.root, deviceId, sessionId);
  }

  /** The session's stored chain, oldest first. */
  async chain(deviceId: string, sessionId: string): Promise<readonly ChunkRecord[]> {
    return this.#load(deviceId, sessionId);
  }

  /** The last stored link, or undefined for a session with no chunks yet. */
  async tip(deviceId: string, sessionId: string): Promise<ChainTip | undefined> {
    const last = (await this.#load(deviceId, sessionId)).at(-1);
    return last === undefined ? undefined : { index: last.meta.index, link: last.link };
  }

  /**
   * Stores a verified chunk that continues its session's chain. Bytes and
   * continuity are checked again under the session lock, so two deliveries
   * racing cannot fork the chain.
   */
  storeChunk(record: ChunkRecord, bytes: Uint8Array): Promise<StoreResult> {
    const { deviceId, sessionId, index } = record.meta;
    return this.#locked(deviceId, sessionId, async () => {
      const b = checkBytes(record, bytes);
      if (!b.ok) return b;
      const chain = await this.#load(deviceId, sessionId);
      const tip = chain.at(-1);
      const c = continuity(record, tip === undefined ? undefined : { index: tip.meta.index, link: tip.link });
      if (c.kind !== 'next') return { ok: false, reason: c.reason ?? `chunk ${deviceId}/${sessionId}/${index} is already stored` };
      const dir = this.sessionDir(deviceId, sessionId);
      await mkdir(dir, { recursive: true });
      const path = join(dir, chunkFileName(index));
      await writeFileAtomic(path, bytes);
      const next = [...chain, record];
      await writeFileAtomic(join(dir, CHAIN_FILE), next.map((r) => `${JSON.stringify(r)}\n`).join(''));
      this.#chains.set(`${deviceId}/${sessionId}`, next);
      return { ok: true, path };
    });
  }

  /** Stores a session's manifest (its signature checked by the caller); a later manifest replaces an earlier one. */
  storeManifest(manifest: Manifest): Promise<StoreResult> {
    return this.#locked(manifest.deviceId, manifest.sessionId, async () => {
      const dir = this.sessionDir(manifest.deviceId, manifest.sessionId);
      await mkdir(dir, { recursive: true });
      const path = join(dir, MANIFEST_FILE);
      await writeFileAtomic(path, `${JSON.stringify(manifest, null, 1)}\n`);
      return { ok: true, path };
    });
  }

  async #load(deviceId: string, sessionId: string): Promise<ChunkRecord[]> {
    const key = `${deviceId}/${sessionId}`;
    const cached = this.#chains.get(key);
    if (cached !== undefined) return cached;
    const records = await readChainFile(join(this.sessionDir(deviceId, sessionId), CHAIN_FILE));
    if (!records.ok) throw new Error(records.reason);
    this.#chains.set(key, records.records);
    return records.records;
  }

  async #locked<T>(deviceId: string, sessionId: string, fn: () => Promise<T>): Promise<T> {
    const key = `${deviceId}/${sessionId}`;
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.#locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }
}

/** Reads and validates a chain.ndjson; a missing file is an empty chain. */
export async function readChainFile(path: string): Promise<{ ok: true; records: ChunkRecord[] } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, records: [] };
    throw err;
  }
  const records: ChunkRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const v = chunkRecordValidator.parse(line);
    if (!v.ok) return { ok: false, reason: `${path} line ${i + 1}: ${v.errors.join('; ')}` };
    records.push(v.value);
  }
  return { ok: true, records };
}
