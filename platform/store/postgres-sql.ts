import { cmp, type MessageRow, type RejectedRow } from './derive.js';
import type { PresenceRow } from './presence.js';
import { ALARM_HISTORY, ALARMS, DEVICE_TOUCH, EVENTS, HEALTH, POSITIONS, PRESENCE_COLUMNS, RESULTS, type TableSpec } from './write-sql.js';

/*
 * The PostgreSQL commit as a few statements whatever the batch size: each
 * table's rows travel as one JSON array parameter and are expanded by
 * json_to_recordset (no per-row round trips, one plan per statement, named
 * and prepared once per connection). Rows are inserted in the order of their
 * `k` field, the key order the JS side sorted them in, so concurrent workers
 * take row locks in one order.
 */

/** Every row goes with its place in the key order. */
export function withOrder<T extends object>(rows: readonly T[]): Array<T & { k: number }> {
  return rows.map((r, k) => ({ ...r, k }));
}

function recordset(spec: TableSpec, param: string): string {
  return `json_to_recordset(${param}::json) AS x(${spec.columns.map(([c, t]) => `${c} ${t}`).join(', ')}, k bigint)`;
}

function insertFrom(spec: TableSpec, param: string): string {
  const cols = spec.columns.map(([c]) => c);
  return `INSERT INTO ${spec.table} (${cols.join(', ')}) SELECT ${cols.map((c) => `x.${c}`).join(', ')} FROM ${recordset(spec, param)} ORDER BY x.k ${spec.conflict}`;
}

/**
 * New messages in, their keys out (the rows not returned were stored
 * already). `n` = commit number × 1,000,000 + position keeps the order of
 * arrival among messages of one receipt time, though rows go in by key.
 */
export const INSERT_MESSAGES = {
  name: 'nrec-store-messages',
  text: `WITH c AS (SELECT nextval('commit_seq') * 1000000 AS base)
INSERT INTO messages (device_id, id, stream, topic, rx, boot_id, seq, ts, body, n)
SELECT x.device_id, x.id, x.stream, x.topic, x.rx, x.boot_id, x.seq, x.ts, x.body, c.base + x.pos
FROM json_to_recordset($1::json) AS x(device_id text, id text, stream text, topic text, rx bigint, boot_id text, seq bigint, ts bigint, body text, pos bigint, k bigint), c
ORDER BY x.k
ON CONFLICT DO NOTHING
RETURNING device_id, id`,
};

/**
 * The messages parameter, in key order. Each body goes as a JSON string (its
 * text escaped once more), not as a nested value: json_to_recordset decodes
 * nested values and refuses a "\u0000" in them, which a valid message may hold.
 */
export function messageParam(rows: readonly MessageRow[]): string {
  const sorted = [...rows].sort((a, b) => cmp(a.device_id, b.device_id) || cmp(a.id, b.id));
  return JSON.stringify(sorted.map((r, k) => ({ ...r, k })));
}

export const TOUCH_DEVICES = { name: 'nrec-store-devices', text: insertFrom(DEVICE_TOUCH, '$1') };

/** Positions, events, health, alarms, alarm history, results and presence changes of one commit in one statement. */
export const INSERT_DERIVED = {
  name: 'nrec-store-derived',
  text: `WITH
  p AS (${insertFrom(POSITIONS, '$1')}),
  e AS (${insertFrom(EVENTS, '$2')}),
  h AS (${insertFrom(HEALTH, '$3')}),
  a AS (${insertFrom(ALARMS, '$4')}),
  ah AS (${insertFrom(ALARM_HISTORY, '$5')}),
  r AS (${insertFrom(RESULTS, '$6')}),
  pr AS (UPDATE devices d SET ${PRESENCE_COLUMNS.map((c) => `${c} = x.${c}`).join(', ')}
    FROM json_to_recordset($7::json) AS x(id text, presence text, presence_boot_id text, presence_at bigint, presence_reason text, birth_boot_id text, agent_version text)
    WHERE d.id = x.id)
SELECT 1`,
};

export function presenceParam(rows: ReadonlyArray<PresenceRow & { id: string }>): string {
  return JSON.stringify(rows);
}

export const INSERT_REJECTED = {
  name: 'nrec-store-rejected',
  text: `WITH c AS (SELECT nextval('commit_seq') * 1000000 AS base)
INSERT INTO rejected (key, rx, topic, device_id, category, detail, msg_id, payload, n)
SELECT x.key, x.rx, x.topic, x.device_id, x.category, x.detail, x.msg_id, decode(x.payload, 'hex'), c.base + x.pos
FROM json_to_recordset($1::json) AS x(key text, rx bigint, topic text, device_id text, category text, detail text, msg_id text, payload text, pos bigint, k bigint), c
ORDER BY x.k
ON CONFLICT DO NOTHING`,
};

export function rejectedParam(rows: readonly RejectedRow[]): string {
  const sorted = [...rows].sort((a, b) => cmp(a.key, b.key));
  return JSON.stringify(sorted.map((r, k) => ({ ...r, payload: r.payload.toString('hex'), k })));
}
