import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Ingest } from '../../../platform/ingest/index.js';
import type { ChunkRecord } from '../../../protocol/media.js';
import type { PlatformAt } from './agent-state.js';

/** Epoch milliseconds with sub-millisecond resolution (strace prints microseconds). */
export const preciseNow = () => performance.timeOrigin + performance.now();

/**
 * What the platform stored, and when: every `stored` event of the ingest(s) of
 * the traced run, timed on the clock strace uses. An event fires after the
 * store's commit and before the device is sent its confirmation, so "stored
 * before the crash point" is exactly what the device may have let go of.
 */
export class PlatformRecord {
  readonly events: Array<{ t: number; stream: string; msg: { id?: string; requestId?: string; acks?: string[] } }> = [];

  attach(ingest: Ingest): void {
    ingest.on('stored', (_d, stream, msg) => this.events.push({ t: preciseNow(), stream, msg }));
  }

  /**
   * What the platform had at `timeS` (epoch seconds, a trace time). Chunks are taken from the
   * store's index (`stored_at`, written before the confirmation, in whole milliseconds: a chunk
   * stored up to 1 ms after the crash point counts as stored before it).
   */
  at(timeS: number, storeDb: string, deviceId: string): PlatformAt {
    const ms = timeS * 1000;
    const ids = new Set<string>();
    const requestIds = new Set<string>();
    for (const e of this.events) {
      if (e.t >= ms) continue;
      if (e.stream === 'media') for (const a of e.msg.acks ?? []) ids.add(a);
      else if (e.msg.id !== undefined) ids.add(e.msg.id);
      if (e.stream === 'result' && e.msg.requestId !== undefined) requestIds.add(e.msg.requestId);
    }
    const links = new Set(storedChunks(storeDb, deviceId).filter((c) => c.storedAt < ms).map((c) => c.link));
    return { ids, requestIds, links };
  }
}

const chunkCache = new Map<string, Array<{ sessionId: string; idx: number; link: string; storedAt: number }>>();

/** Chunks in the ingest store's index (read once per store file: the traced run is over when this is called). */
export function storedChunks(storeDb: string, deviceId: string): Array<{ sessionId: string; idx: number; link: string; storedAt: number }> {
  const key = `${storeDb}\0${deviceId}`;
  let rows = chunkCache.get(key);
  if (rows === undefined) {
    const db = new Database(storeDb, { readonly: true, fileMustExist: true });
    try {
      rows = db.prepare<[string], { sessionId: string; idx: number; link: string; storedAt: number }>(
        'SELECT session_id AS sessionId, idx, link, stored_at AS storedAt FROM chunks WHERE device_id = ? ORDER BY session_id, idx').all(deviceId);
    } finally {
      db.close();
    }
    chunkCache.set(key, rows);
  }
  return rows;
}

/**
 * A platform store as it was at `timeS`, for a fresh ingest: the device keys, and per session the
 * chain up to the last chunk stored by then, its files, and the manifest if it was stored by then
 * (its file's time: the kernel's coarse clock, at most a tick early). The platform is not what lost
 * power, so this is what it holds when the device comes back.
 */
export function seedStore(original: string, target: string, timeS: number, deviceId: string): void {
  mkdirSync(target, { recursive: true });
  cpSync(join(original, 'keys'), join(target, 'keys'), { recursive: true });
  const ms = timeS * 1000;
  const stored = new Set(storedChunks(join(original, 'platform.db'), deviceId).filter((c) => c.storedAt < ms).map((c) => c.link));
  const root = join(original, 'evidence', deviceId);
  if (!existsSync(root)) return;
  for (const sessionId of readdirSync(root)) {
    const from = join(root, sessionId);
    const chainText = existsSync(join(from, 'chain.ndjson')) ? readFileSync(join(from, 'chain.ndjson'), 'utf8') : '';
    const chain = chainText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChunkRecord);
    const firstMissing = chain.findIndex((r) => !stored.has(r.link));
    const keep = firstMissing === -1 ? chain : chain.slice(0, firstMissing);
    const manifest = join(from, 'manifest.json');
    const withManifest = existsSync(manifest) && statSync(manifest).mtimeMs < ms;
    if (keep.length === 0 && !withManifest) continue;
    const to = join(target, 'evidence', deviceId, sessionId);
    mkdirSync(to, { recursive: true });
    for (const r of keep) {
      const f = `chunk-${String(r.meta.index).padStart(6, '0')}.ts`;
      copyFileSync(join(from, f), join(to, f));
    }
    if (keep.length > 0) writeFileSync(join(to, 'chain.ndjson'), keep.map((r) => `${JSON.stringify(r)}\n`).join(''));
    if (withManifest) copyFileSync(manifest, join(to, 'manifest.json'));
  }
}
