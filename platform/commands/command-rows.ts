import type { SentCommand } from '../desk/types.js';
import type { SqlRow, SqlStatement, SqlValue } from '../store/types.js';

/*
 * The commands table (store migration 2) as statements and views. One row per
 * request id: what was sent, to whom, until when, how often it was published,
 * and the device's answer. `version` is the compare-and-set token that keeps
 * two workers from re-publishing the same command at the same moment.
 */

/** Why the platform gave up on a command (answered_at stays NULL: a late answer still replaces it). */
export const EXPIRED_REASON = 'no answer from the device before the command expired';

const COLUMNS = 'request_id, device_id, name, args, by_name, sent_at, expires_at, status, reason, result, answered_at, publishes, published_at, next_publish_at, version';

export interface CommandRow {
  requestId: string;
  deviceId: string;
  name: string;
  args: Record<string, unknown>;
  by?: string;
  sentAt: number;
  expiresAt: number;
  status: SentCommand['status'];
  reason?: string;
  result?: unknown;
  answeredAt?: number;
  publishes: number;
  publishedAt?: number;
  nextPublishAt?: number;
  version: number;
}

const opt = <T>(v: unknown, f: (x: unknown) => T): T | undefined => (v === null || v === undefined ? undefined : f(v));

export function toCommandRow(r: SqlRow): CommandRow {
  const row: CommandRow = {
    requestId: String(r.request_id),
    deviceId: String(r.device_id),
    name: String(r.name),
    args: JSON.parse(String(r.args)) as Record<string, unknown>,
    sentAt: Number(r.sent_at),
    expiresAt: Number(r.expires_at),
    status: String(r.status) as SentCommand['status'],
    publishes: Number(r.publishes),
    version: Number(r.version),
  };
  const by = opt(r.by_name, String);
  if (by !== undefined) row.by = by;
  const reason = opt(r.reason, String);
  if (reason !== undefined) row.reason = reason;
  if (r.result !== null && r.result !== undefined) row.result = JSON.parse(String(r.result));
  const answeredAt = opt(r.answered_at, Number);
  if (answeredAt !== undefined) row.answeredAt = answeredAt;
  const publishedAt = opt(r.published_at, Number);
  if (publishedAt !== undefined) row.publishedAt = publishedAt;
  const next = opt(r.next_publish_at, Number);
  if (next !== undefined) row.nextPublishAt = next;
  return row;
}

/** The API's view: the row without the sender's bookkeeping. */
export function toSentCommand(r: CommandRow): SentCommand {
  const c: SentCommand = { requestId: r.requestId, deviceId: r.deviceId, name: r.name, args: r.args, sentAt: r.sentAt, expiresAt: r.expiresAt, status: r.status };
  if (r.by !== undefined) c.by = r.by;
  if (r.reason !== undefined) c.reason = r.reason;
  if (r.result !== undefined) c.result = r.result;
  if (r.answeredAt !== undefined) c.answeredAt = r.answeredAt;
  return c;
}

export const SELECT_ONE = `SELECT ${COLUMNS} FROM commands WHERE request_id = ?`;
export const SELECT_BY_DEVICE = `SELECT ${COLUMNS} FROM commands WHERE device_id = ? ORDER BY sent_at DESC, request_id DESC LIMIT ?`;
export const SELECT_DUE = `SELECT ${COLUMNS} FROM commands WHERE status = 'pending' AND next_publish_at <= ? ORDER BY next_publish_at LIMIT 200`;
/** Pending commands whose result is in the store already (stored by another worker, or while this one was down). */
export const SELECT_ANSWERED = `SELECT c.request_id FROM commands c JOIN results r ON r.device_id = c.device_id AND r.request_id = c.request_id
WHERE c.status = 'pending' OR (c.status = 'expired' AND c.answered_at IS NULL)`;

export function insertCommand(c: { requestId: string; deviceId: string; name: string; args: Record<string, unknown>; by?: string; sentAt: number; expiresAt: number }): SqlStatement {
  return {
    sql: `INSERT INTO commands (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL, 0, NULL, ?, 1) ON CONFLICT DO NOTHING`,
    params: [c.requestId, c.deviceId, c.name, JSON.stringify(c.args), c.by ?? null, c.sentAt, c.expiresAt, c.sentAt],
  };
}

/** Claims one publish of a pending command: only the caller holding `version` wins. */
export function claimPublish(requestId: string, version: number, now: number, next: number): SqlStatement {
  return {
    sql: "UPDATE commands SET publishes = publishes + 1, published_at = ?, next_publish_at = ?, version = version + 1 WHERE request_id = ? AND version = ? AND status = 'pending'",
    params: [now, next, requestId, version],
    mustChange: true,
  };
}

/**
 * The device's answer. A command the platform gave up on (expired without an
 * answer) still takes a late answer: the device may have run it before the
 * deadline, and what it did matters more than our timeout.
 */
export function answer(requestId: string, deviceId: string, a: { status: SentCommand['status']; reason?: string; result?: unknown; at: number }): SqlStatement {
  const params: SqlValue[] = [a.status, a.reason ?? null, a.result === undefined ? null : JSON.stringify(a.result), a.at, requestId, deviceId];
  return {
    sql: `UPDATE commands SET status = ?, reason = ?, result = ?, answered_at = ?, next_publish_at = NULL, version = version + 1
WHERE request_id = ? AND device_id = ? AND (status = 'pending' OR (status = 'expired' AND answered_at IS NULL))`,
    params,
  };
}

export function expire(now: number): SqlStatement {
  return {
    sql: "UPDATE commands SET status = 'expired', reason = ?, next_publish_at = NULL, version = version + 1 WHERE status = 'pending' AND expires_at <= ? RETURNING request_id",
    params: [EXPIRED_REASON, now],
  };
}

/** A device came online: what is pending for it is due now. */
export function dueNow(deviceId: string, now: number): SqlStatement {
  return { sql: "UPDATE commands SET next_publish_at = ?, version = version + 1 WHERE device_id = ? AND status = 'pending' AND next_publish_at > ?", params: [now, deviceId, now] };
}
