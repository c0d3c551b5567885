import type { SqlRow, SqlStatement } from '../store/types.js';
import type { DeskState, NotificationAttempt } from './types.js';

/*
 * The desk's tables (store migration 3) as statements and rows. desk_alarms
 * holds one row per alarm with its state and its escalation schedule: `step`
 * counts the steps run and is the compare-and-set token that makes exactly
 * one worker run each step; `next_step_at` is when the next one is due (the
 * schedule lives in the database, so a restarted desk carries on). Every
 * update bumps `version` and `updated_at`, which is how desks on other workers
 * notice a change. desk_history has one row per state entered, desk_attempts
 * one per notification (key = idempotency key), claimed with a lease.
 */

export const OPEN: readonly DeskState[] = ['raised', 'notifying'];
const OPEN_SQL = "('raised', 'notifying')";

export interface DeskRow {
  deviceId: string;
  alarmId: string;
  state: DeskState;
  receivedAt: number;
  step: number;
  tier: number;
  attempt: number;
  stepAt?: number;
  nextStepAt?: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
  deviceAcknowledgedAt?: number;
  resolvedBy?: string;
  resolvedAt?: number;
  note?: string;
  ackPending: boolean;
  ackRequestId?: string;
  resolvePending: boolean;
  resolveRequestId?: string;
  version: number;
  updatedAt: number;
}

export interface AttemptRow extends NotificationAttempt {
  deviceId: string;
  alarmId: string;
  contact: string;
  owner?: string;
  leaseUntil?: number;
}

const optN = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
const optS = (v: unknown) => (v === null || v === undefined ? undefined : String(v));

function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

export function toDeskRow(r: SqlRow): DeskRow {
  return compact({
    deviceId: String(r.device_id),
    alarmId: String(r.alarm_id),
    state: String(r.state) as DeskState,
    receivedAt: Number(r.received_at),
    step: Number(r.step),
    tier: Number(r.tier),
    attempt: Number(r.attempt),
    stepAt: optN(r.step_at),
    nextStepAt: optN(r.next_step_at),
    acknowledgedBy: optS(r.acknowledged_by),
    acknowledgedAt: optN(r.acknowledged_at),
    deviceAcknowledgedAt: optN(r.device_acknowledged_at),
    resolvedBy: optS(r.resolved_by),
    resolvedAt: optN(r.resolved_at),
    note: optS(r.note),
    ackPending: Number(r.ack_pending) === 1,
    ackRequestId: optS(r.ack_request_id),
    resolvePending: Number(r.resolve_pending) === 1,
    resolveRequestId: optS(r.resolve_request_id),
    version: Number(r.version),
    updatedAt: Number(r.updated_at),
  });
}

export function toAttempt(r: SqlRow): AttemptRow {
  return compact({
    deviceId: String(r.device_id),
    alarmId: String(r.alarm_id),
    tier: Number(r.tier),
    attempt: Number(r.attempt),
    channel: String(r.channel) as NotificationAttempt['channel'],
    contact: String(r.contact),
    recipient: String(r.recipient),
    key: String(r.key),
    at: Number(r.at),
    result: String(r.result) as NotificationAttempt['result'],
    latencyMs: optN(r.latency_ms),
    error: optS(r.error),
    tries: Number(r.tries),
    owner: optS(r.owner),
    leaseUntil: optN(r.lease_until),
  });
}

const key = (deviceId: string, alarmId: string) => [deviceId, alarmId];
const bump = (now: number) => `version = version + 1, updated_at = ${Math.floor(now)}`;

export const SELECT_ALARM = 'SELECT * FROM desk_alarms WHERE device_id = ? AND alarm_id = ?';
export const SELECT_DUE = `SELECT * FROM desk_alarms WHERE state IN ${OPEN_SQL} AND next_step_at <= ? ORDER BY next_step_at LIMIT 100`;
export const SELECT_NEXT_DUE = `SELECT MIN(next_step_at) AS at FROM desk_alarms WHERE state IN ${OPEN_SQL}`;
export const SELECT_COMMANDS_DUE = 'SELECT * FROM desk_alarms WHERE ack_pending = 1 OR resolve_pending = 1';
export const SELECT_BY_COMMAND = 'SELECT * FROM desk_alarms WHERE ack_request_id = ? OR resolve_request_id = ?';
export const SELECT_CHANGED = 'SELECT device_id, alarm_id, version FROM desk_alarms WHERE updated_at >= ?';
export const SELECT_OPEN = `SELECT device_id, alarm_id FROM desk_alarms WHERE state IN ${OPEN_SQL}`;
export const SELECT_HISTORY = `SELECT * FROM desk_history WHERE device_id = ? AND alarm_id = ?
ORDER BY at, CASE state WHEN 'raised' THEN 0 WHEN 'notifying' THEN 1 WHEN 'acknowledged' THEN 2 ELSE 3 END`;
export const SELECT_ATTEMPTS = 'SELECT * FROM desk_attempts WHERE device_id = ? AND alarm_id = ? ORDER BY tier, attempt, at, key';
export const SELECT_ORPHANS = "SELECT * FROM desk_attempts WHERE result = 'pending' AND lease_until < ? ORDER BY at LIMIT 100";

export function selectList(f: { open?: boolean; deviceId?: string; from?: number; to?: number; limit: number }): { sql: string; params: Array<string | number> } {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (f.open === true) where.push("state IN ('raised', 'notifying', 'acknowledged')");
  if (f.open === false) where.push("state IN ('resolved', 'cancelled')");
  if (f.deviceId !== undefined) {
    where.push('device_id = ?');
    params.push(f.deviceId);
  }
  if (f.from !== undefined) {
    where.push('received_at >= ?');
    params.push(f.from);
  }
  if (f.to !== undefined) {
    where.push('received_at < ?');
    params.push(f.to);
  }
  return { sql: `SELECT * FROM desk_alarms${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, device_id, alarm_id LIMIT ?`, params: [...params, f.limit] };
}

/** A new alarm; due at once when the device still reports it raised. Does nothing when the desk has it. */
export function insertAlarm(deviceId: string, alarmId: string, receivedAt: number, dueNow: boolean, now: number): SqlStatement {
  return {
    sql: `INSERT INTO desk_alarms (device_id, alarm_id, state, received_at, step, tier, attempt, step_at, next_step_at, ack_pending, resolve_pending, version, updated_at)
VALUES (?, ?, 'raised', ?, 0, 0, 0, NULL, ?, 0, 0, 1, ?) ON CONFLICT DO NOTHING`,
    params: [deviceId, alarmId, receivedAt, dueNow ? receivedAt : null, now],
  };
}

export function history(deviceId: string, alarmId: string, state: DeskState, at: number, by?: string, note?: string): SqlStatement {
  return { sql: 'INSERT INTO desk_history (device_id, alarm_id, state, at, by_name, note) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', params: [deviceId, alarmId, state, at, by ?? null, note ?? null] };
}

/** Claims the step after `expectedStep`: exactly one caller holding it wins. */
export function claimStep(r: DeskRow, s: { tier: number; attempt: number; at: number }, nextAt: number, now: number): SqlStatement {
  return {
    sql: `UPDATE desk_alarms SET state = 'notifying', step = step + 1, tier = ?, attempt = ?, step_at = ?, next_step_at = ?, ${bump(now)}
WHERE device_id = ? AND alarm_id = ? AND step = ? AND state IN ${OPEN_SQL}`,
    params: [s.tier, s.attempt, s.at, nextAt, ...key(r.deviceId, r.alarmId), r.step],
    mustChange: true,
  };
}

/** Moves the due time (nothing to run yet, e.g. a reloaded file changed the delays), only while the step is unchanged. */
export function reschedule(r: DeskRow, nextAt: number, now: number): SqlStatement {
  return { sql: `UPDATE desk_alarms SET next_step_at = ?, ${bump(now)} WHERE device_id = ? AND alarm_id = ? AND step = ? AND state IN ${OPEN_SQL}`, params: [nextAt, ...key(r.deviceId, r.alarmId), r.step] };
}

export function insertAttempt(a: { key: string; deviceId: string; alarmId: string; tier: number; attempt: number; channel: string; contact: string; recipient: string; at: number; owner: string; leaseUntil: number }): SqlStatement {
  return {
    sql: `INSERT INTO desk_attempts (key, device_id, alarm_id, tier, attempt, channel, contact, recipient, at, result, latency_ms, error, tries, owner, lease_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, 0, ?, ?) ON CONFLICT DO NOTHING`,
    params: [a.key, a.deviceId, a.alarmId, a.tier, a.attempt, a.channel, a.contact, a.recipient, a.at, a.owner, a.leaseUntil],
  };
}

/** Takes over an attempt whose owner let its lease run out (it died mid-send). */
export function takeOver(a: AttemptRow, owner: string, leaseUntil: number): SqlStatement {
  return {
    sql: "UPDATE desk_attempts SET owner = ?, lease_until = ? WHERE key = ? AND result = 'pending' AND lease_until = ?",
    params: [owner, leaseUntil, a.key, a.leaseUntil ?? 0],
    mustChange: true,
  };
}

export function attemptDone(k: string, owner: string, o: { result: 'sent' | 'failed'; latencyMs: number; error?: string; tries: number }): SqlStatement {
  return {
    sql: "UPDATE desk_attempts SET result = ?, latency_ms = ?, error = ?, tries = ?, lease_until = NULL WHERE key = ? AND owner = ? AND result = 'pending'",
    params: [o.result, Math.round(o.latencyMs), o.error ?? null, o.tries, k, owner],
  };
}

export function touch(deviceId: string, alarmId: string, now: number): SqlStatement {
  return { sql: `UPDATE desk_alarms SET ${bump(now)} WHERE device_id = ? AND alarm_id = ?`, params: key(deviceId, alarmId) };
}

export function acknowledge(r: DeskRow, by: string, at: number, requestId: string | undefined): SqlStatement {
  return {
    sql: `UPDATE desk_alarms SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, next_step_at = NULL, ack_pending = ?, ack_request_id = ?, ${bump(at)}
WHERE device_id = ? AND alarm_id = ? AND state IN ${OPEN_SQL}`,
    params: [by, at, requestId === undefined ? 0 : 1, requestId ?? null, ...key(r.deviceId, r.alarmId)],
    mustChange: true,
  };
}

export function resolve(r: DeskRow, by: string, at: number, note: string | undefined, requestId: string | undefined): SqlStatement {
  return {
    sql: `UPDATE desk_alarms SET state = 'resolved', resolved_by = ?, resolved_at = ?, note = ?, next_step_at = NULL, resolve_pending = ?, resolve_request_id = ?, ${bump(at)}
WHERE device_id = ? AND alarm_id = ? AND state IN ('raised', 'notifying', 'acknowledged')`,
    params: [by, at, note ?? null, requestId === undefined ? 0 : 1, requestId ?? null, ...key(r.deviceId, r.alarmId)],
    mustChange: true,
  };
}

export function cancel(r: DeskRow, at: number): SqlStatement {
  return {
    sql: `UPDATE desk_alarms SET state = 'cancelled', next_step_at = NULL, ${bump(at)} WHERE device_id = ? AND alarm_id = ? AND state IN ('raised', 'notifying', 'acknowledged')`,
    params: key(r.deviceId, r.alarmId),
    mustChange: true,
  };
}

export function deviceAcknowledged(r: DeskRow, at: number, now: number): SqlStatement {
  return { sql: `UPDATE desk_alarms SET device_acknowledged_at = ?, ${bump(now)} WHERE device_id = ? AND alarm_id = ? AND device_acknowledged_at IS NULL`, params: [at, ...key(r.deviceId, r.alarmId)] };
}

export function commandSent(r: DeskRow, which: 'ack' | 'resolve', now: number): SqlStatement {
  return { sql: `UPDATE desk_alarms SET ${which}_pending = 0, ${bump(now)} WHERE device_id = ? AND alarm_id = ? AND ${which}_pending = 1`, params: key(r.deviceId, r.alarmId) };
}
