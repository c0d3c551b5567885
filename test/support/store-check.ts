import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { readStream } from '../../platform/ingest/index.js';
import { DEVICE_STREAMS } from '../../protocol/index.js';

export interface StoredMsg { id: string; bootId: string; seq: number; ts: number; alarmId?: string; state?: string; kind?: string; data?: Record<string, unknown> }

/** Rows in a device's outbox (read-only: the agent may be running). */
export function outboxCount(dataDir: string): number {
  const path = join(dataDir, 'outbox.db');
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * Every stored message of the device (from the SQLite store in `storeDir`, or the lists given), checked:
 * no id twice, and for every (bootId, stream) the seqs are exactly 0..k — a hole is a message the device
 * handed over and the platform lost. Status is left out (births and wills are published directly, not
 * from the outbox), and media (chunks have their own chain).
 */
export function checkStream(streams: Map<string, StoredMsg[]>): Map<string, StoredMsg[]> {
  const all = [...streams.values()].flat();
  const counts = new Map<string, number>();
  for (const m of all) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1), 'ids stored more than once').toEqual([]);
  for (const [stream, msgs] of streams) {
    if (stream === 'status' || stream === 'media') continue;
    const byBoot = new Map<string, number[]>();
    for (const m of msgs) byBoot.set(m.bootId, [...(byBoot.get(m.bootId) ?? []), m.seq]);
    for (const [boot, seqs] of byBoot) {
      const sorted = [...seqs].sort((a, b) => a - b);
      expect(sorted, `${stream} of boot ${boot}: a hole means a message the device handed over was lost`).toEqual(sorted.map((_, i) => i));
    }
  }
  return streams;
}

/** checkStream over the default SQLite store of an ingest store directory. */
export function checkStore(storeDir: string, deviceId: string): Map<string, StoredMsg[]> {
  const streams = new Map<string, StoredMsg[]>();
  for (const s of DEVICE_STREAMS) streams.set(s, readStream<StoredMsg>(storeDir, deviceId, s).map((r) => r.m));
  return checkStream(streams);
}
