import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '../../lib/sqlite.js';
import type { StoredMessage } from './types.js';

/** The SQLite store an ingest keeps in its store directory by default. */
export function defaultStorePath(storeDir: string): string {
  return join(storeDir, 'platform.db');
}

/**
 * A device's stored messages of one stream, in receipt order, read
 * synchronously from the default SQLite store in `storeDir` (read-only; the
 * ingest may be running). For tests, the simulator's summary and tools that
 * poll; the ingest and the API use the store's async queries.
 */
export function readStream<T = Record<string, unknown>>(storeDir: string, deviceId: string, stream: string): Array<StoredMessage<T>> {
  const path = defaultStorePath(storeDir);
  if (!existsSync(path)) return [];
  const db = openSqlite(path, { readonly: true, what: 'platform store' });
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get();
    if (has === undefined) return [];
    return db
      .prepare<[string, string], { rx: number; topic: string; body: string }>('SELECT rx, topic, body FROM messages WHERE device_id = ? AND stream = ? ORDER BY rx, rowid')
      .all(deviceId, stream)
      .map((r) => ({ rx: r.rx, topic: r.topic, m: JSON.parse(r.body) as T }));
  } finally {
    db.close();
  }
}

/** Rejected input in receipt order, read synchronously from the default SQLite store in `storeDir`. */
export function readRejected(storeDir: string): Array<{ rx: number; topic: string; category: string; detail: string }> {
  const path = defaultStorePath(storeDir);
  if (!existsSync(path)) return [];
  const db = openSqlite(path, { readonly: true, what: 'platform store' });
  try {
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rejected'").get() === undefined) return [];
    return db.prepare<[], { rx: number; topic: string; category: string; detail: string }>('SELECT rx, topic, category, detail FROM rejected ORDER BY rx, rowid').all();
  } finally {
    db.close();
  }
}
