import type Database from 'better-sqlite3';
import type { Lane } from './outbox-policy.js';
import type { OutboxEntry } from './outbox.js';

/** A stored row as SQLite returns it. */
export interface DbRow {
  row_id: number;
  lane: Lane;
  topic: string;
  payload: Buffer;
  msg_id: string;
  retain: number;
  created_at: number;
  bytes: number;
}
export type Meta = Pick<DbRow, 'row_id' | 'lane' | 'bytes'>;

// AUTOINCREMENT: row ids are never reused, so an id held in memory (in flight) can't come to mean another message.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  row_id INTEGER PRIMARY KEY AUTOINCREMENT,
  lane TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  msg_id TEXT NOT NULL,
  retain INTEGER NOT NULL,
  ack_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_lane_row ON outbox (lane, row_id);
DROP INDEX IF EXISTS outbox_msg_id;
-- Confirmations are matched in memory (Outbox#sent), never by a lookup: an index on msg_id
-- cost ~25% of put and delivery time in outbox-throughput.
DROP INDEX IF EXISTS outbox_msg_id_ingest;
`;

/** Creates the table if needed and prepares every statement the outbox uses, once. */
export function prepareStatements(db: Database.Database) {
  db.exec(SCHEMA);
  return {
    // ack_by is a column of older databases (every message now waits for the platform's confirmation).
    insert: db.prepare<[string, string, Buffer, string, number, number, number]>(
      "INSERT INTO outbox (lane, topic, payload, msg_id, retain, ack_by, created_at, bytes) VALUES (?, ?, ?, ?, ?, 'ingest', ?, ?)"),
    del: db.prepare<[number]>('DELETE FROM outbox WHERE row_id = ?'),
    delRange: db.prepare<[number, number]>('DELETE FROM outbox WHERE row_id BETWEEN ? AND ?'),
    meta: db.prepare<[number], Meta>('SELECT row_id, lane, bytes FROM outbox WHERE row_id = ?'),
    scan: db.prepare<[string, number], DbRow>('SELECT * FROM outbox WHERE lane = ? AND row_id > ? ORDER BY row_id'),
    laneRows: db.prepare<[string], { row_id: number; bytes: number; created_at: number }>(
      'SELECT row_id, bytes, created_at FROM outbox WHERE lane = ? ORDER BY row_id'),
    totals: db.prepare<[], { lane: string; n: number; b: number }>('SELECT lane, count(*) AS n, total(bytes) AS b FROM outbox GROUP BY lane'),
  };
}
export type OutboxStatements = ReturnType<typeof prepareStatements>;

/** Maps a row to the entry handed to callers. */
export function toEntry(r: DbRow): OutboxEntry {
  return {
    rowId: r.row_id, lane: r.lane, topic: r.topic, payload: r.payload, msgId: r.msg_id,
    retain: r.retain === 1, createdAt: r.created_at, bytes: r.bytes,
  };
}


/**
 * Row ids as runs of consecutive ids, [first, last] each: a backfill batch or a burst of
 * PUBACKs acknowledges neighbouring rows, and one range DELETE is much cheaper than one
 * DELETE per row. Every id of a run is in `ids`, so the range deletes exactly them.
 */
export function idRuns(ids: readonly number[]): Array<[number, number]> {
  const sorted = [...ids].sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const id of sorted) {
    const last = runs.at(-1);
    if (last !== undefined && id <= last[1] + 1) last[1] = Math.max(last[1], id);
    else runs.push([id, id]);
  }
  return runs;
}
