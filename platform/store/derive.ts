import { createHash } from 'node:crypto';
import type { Alarm, CommandResult, Event, Fix, Health, Location, Status } from '../../protocol/index.js';
import { cleanJson, cleanOptText, cleanText } from './sanitize.js';
import type { StatusInput } from './presence.js';
import type { AcceptedMessage, RejectedInput } from './types.js';

/*
 * The rows a batch turns into, computed once in plain code for both
 * back-ends. Keys are column names. Rows that several messages of one batch
 * update (a device, an alarm, a command result) are merged here first, with
 * the same rule the back-ends' upserts apply across commits, so a batch
 * touches each such row once (PostgreSQL refuses an upsert that hits a row
 * twice) and in key order (two workers locking rows in one order cannot
 * deadlock).
 */

export type JsonValue = unknown;

export interface MessageRow {
  device_id: string;
  id: string;
  stream: string;
  topic: string;
  rx: number;
  boot_id: string;
  seq: number;
  ts: number;
  body: string;
  /** Position in the batch, for receipt order among messages of one commit. */
  pos: number;
}

/** What one batch adds to a device row; merged with the stored row by max/min. */
export interface DeviceTouch {
  id: string;
  first_seen: number;
  last_seen: number;
  last_fix_time: number | null;
  last_position_id: string | null;
  last_health_rx: number | null;
  last_health_id: string | null;
}

export interface PositionRow {
  device_id: string;
  msg_id: string;
  fix_time: number;
  rx: number;
  ts: number;
  lat: number;
  lon: number;
  alt_m: number | null;
  speed_mps: number | null;
  course_deg: number | null;
  accuracy_m: number | null;
  fix_type: string;
  sats_used: number | null;
  clock: string | null;
  stale: boolean;
  reason: string | null;
  backfill: boolean;
}

export interface EventRow {
  device_id: string;
  msg_id: string;
  ts: number;
  rx: number;
  kind: string;
  severity: string;
  message: string;
  data: JsonValue | null;
}

export interface HealthRow {
  device_id: string;
  msg_id: string;
  ts: number;
  rx: number;
  trigger: string;
  battery_pct: number | null;
  body: JsonValue;
}

export interface AlarmRow {
  device_id: string;
  alarm_id: string;
  state: string;
  state_rank: number;
  state_rx: number;
  trigger: string;
  raised_at: number;
  escalation: number;
  raised_count: number;
  message_count: number;
  last_fix: Fix | null;
  last_fix_rx: number | null;
  battery_pct: number | null;
  battery_rx: number | null;
  first_rx: number;
  last_rx: number;
}

export interface AlarmHistoryRow {
  device_id: string;
  msg_id: string;
  alarm_id: string;
  state: string;
  escalation: number;
  seq: number;
  ts: number;
  rx: number;
}

export interface ResultRow {
  device_id: string;
  request_id: string;
  msg_id: string;
  name: string;
  status: string;
  reason: string | null;
  result: JsonValue | null;
  restart_required: boolean;
  ts: number;
  rx: number;
}

export interface RejectedRow {
  /** SHA-256 of what was refused: the same input recorded twice (a redelivery) is one row. */
  key: string;
  rx: number;
  topic: string;
  device_id: string | null;
  category: string;
  detail: string;
  msg_id: string | null;
  payload: Buffer;
  pos: number;
}

export interface Derived {
  devices: DeviceTouch[];
  /** Status messages per device in batch order (the presence rule needs the stored row). */
  statuses: Map<string, StatusInput[]>;
  positions: PositionRow[];
  events: EventRow[];
  health: HealthRow[];
  alarms: AlarmRow[];
  alarmHistory: AlarmHistoryRow[];
  results: ResultRow[];
}

/** Payloads are kept up to this many bytes (the contract's cap, enforced again here). */
export const REJECTED_PAYLOAD_BYTES = 512;

/** Device-reported alarm states in lifecycle order: a later re-send of an earlier state never moves an alarm back. */
export const ALARM_STATE_RANK: Record<string, number> = { raised: 0, acknowledged: 1, cancelled: 2, resolved: 2 };

/**
 * The messages of a batch as rows, duplicates within the batch dropped (the
 * first copy counts); `slot[i]` is the row index of accepted[i], or -1 for a
 * repeat of an earlier one in the same batch; `source[j]` the accepted index of row j.
 */
export function messageRows(accepted: readonly AcceptedMessage[]): { rows: MessageRow[]; slot: number[]; source: number[] } {
  const rows: MessageRow[] = [];
  const slot: number[] = [];
  const source: number[] = [];
  const seen = new Set<string>();
  for (const a of accepted) {
    const m = a.msg;
    if (typeof m?.id !== 'string' || m.deviceId !== a.deviceId) {
      throw new Error(`store commit: message ${String(m?.id)} of device "${String(m?.deviceId)}" is filed under device "${a.deviceId}"`);
    }
    const key = `${a.deviceId}\u0000${m.id}`;
    if (seen.has(key)) {
      slot.push(-1);
      continue;
    }
    seen.add(key);
    slot.push(rows.length);
    source.push(slot.length - 1);
    rows.push({ device_id: a.deviceId, id: m.id, stream: a.stream, topic: cleanText(a.topic), rx: a.rx, boot_id: m.bootId, seq: m.seq, ts: m.ts, body: JSON.stringify(m), pos: rows.length });
  }
  return { rows, slot, source };
}

/** The derived rows of the messages that were newly stored. */
export function derive(fresh: readonly AcceptedMessage[]): Derived {
  const d: Derived = { devices: [], statuses: new Map(), positions: [], events: [], health: [], alarms: [], alarmHistory: [], results: [] };
  const devices = new Map<string, DeviceTouch>();
  const alarms = new Map<string, AlarmRow>();
  const results = new Map<string, ResultRow>();
  for (const a of fresh) {
    const { deviceId, rx } = a;
    let dev = devices.get(deviceId);
    if (dev === undefined) {
      dev = { id: deviceId, first_seen: rx, last_seen: rx, last_fix_time: null, last_position_id: null, last_health_rx: null, last_health_id: null };
      devices.set(deviceId, dev);
    }
    dev.first_seen = Math.min(dev.first_seen, rx);
    dev.last_seen = Math.max(dev.last_seen, rx);
    const msgId = a.msg.id;
    const ts = a.msg.ts;
    switch (a.stream) {
      case 'status': {
        const m = a.msg as unknown as Status;
        const list = d.statuses.get(deviceId) ?? [];
        list.push({ state: m.state, bootId: m.bootId, rx, reason: m.reason === undefined ? undefined : cleanText(m.reason), agentVersion: m.agentVersion === undefined ? undefined : cleanText(m.agentVersion) });
        d.statuses.set(deviceId, list);
        break;
      }
      case 'location': {
        const m = a.msg as unknown as Location;
        const f = m.fix;
        d.positions.push({
          device_id: deviceId, msg_id: msgId, fix_time: f.time, rx, ts, lat: f.lat, lon: f.lon,
          alt_m: f.altM ?? null, speed_mps: f.speedMps ?? null, course_deg: f.courseDeg ?? null, accuracy_m: f.accuracyM ?? null,
          fix_type: f.fixType, sats_used: f.satsUsed ?? null, clock: m.clock ?? null, stale: f.stale === true,
          reason: m.reason ?? null, backfill: m.backfill === true,
        });
        if (dev.last_fix_time === null || f.time >= dev.last_fix_time) {
          dev.last_fix_time = f.time;
          dev.last_position_id = msgId;
        }
        break;
      }
      case 'health': {
        const m = a.msg as unknown as Health;
        d.health.push({ device_id: deviceId, msg_id: msgId, ts, rx, trigger: m.trigger, battery_pct: m.battery?.pct ?? null, body: cleanJson(m) });
        if (dev.last_health_rx === null || rx >= dev.last_health_rx) {
          dev.last_health_rx = rx;
          dev.last_health_id = msgId;
        }
        break;
      }
      case 'event': {
        const m = a.msg as unknown as Event;
        d.events.push({ device_id: deviceId, msg_id: msgId, ts, rx, kind: cleanText(m.kind), severity: m.severity, message: cleanText(m.message), data: m.data === undefined ? null : cleanJson(m.data) });
        break;
      }
      case 'alarm': {
        const m = a.msg as unknown as Alarm;
        d.alarmHistory.push({ device_id: deviceId, msg_id: msgId, alarm_id: m.alarmId, state: m.state, escalation: m.escalation, seq: m.seq, ts, rx });
        const row = alarmRow(deviceId, m, rx);
        const key = `${deviceId}\u0000${m.alarmId}`;
        const prev = alarms.get(key);
        alarms.set(key, prev === undefined ? row : mergeAlarm(prev, row));
        break;
      }
      case 'result': {
        const m = a.msg as unknown as CommandResult;
        const row: ResultRow = {
          device_id: deviceId, request_id: m.requestId, msg_id: msgId, name: cleanText(m.name), status: m.status,
          reason: cleanOptText(m.reason), result: m.result === undefined ? null : cleanJson(m.result), restart_required: m.restartRequired === true, ts, rx,
        };
        const key = `${deviceId}\u0000${m.requestId}`;
        const prev = results.get(key);
        // The latest answer to a request wins (a repeat is answered from the device's stored result, so normally they agree).
        if (prev === undefined || rx >= prev.rx) results.set(key, row);
        break;
      }
      default:
        // media and anything newer: kept in messages only (evidence is indexed by recordChunk/recordManifest).
        break;
    }
  }
  d.devices = [...devices.values()].sort((x, y) => cmp(x.id, y.id));
  d.alarms = [...alarms.values()].sort((x, y) => cmp(x.device_id, y.device_id) || cmp(x.alarm_id, y.alarm_id));
  d.results = [...results.values()].sort((x, y) => cmp(x.device_id, y.device_id) || cmp(x.request_id, y.request_id));
  return d;
}

function alarmRow(deviceId: string, m: Alarm, rx: number): AlarmRow {
  return {
    device_id: deviceId, alarm_id: m.alarmId, state: m.state, state_rank: ALARM_STATE_RANK[m.state] ?? 0, state_rx: rx,
    trigger: m.trigger, raised_at: m.raisedAt, escalation: m.escalation, raised_count: m.state === 'raised' ? 1 : 0, message_count: 1,
    last_fix: m.fix ?? null, last_fix_rx: m.fix === undefined ? null : rx,
    battery_pct: m.batteryPct ?? null, battery_rx: m.batteryPct === undefined ? null : rx, first_rx: rx, last_rx: rx,
  };
}

/** `b` (later in the batch) merged into `a`: the same rule as the back-ends' alarm upserts. */
export function mergeAlarm(a: AlarmRow, b: AlarmRow): AlarmRow {
  const laterState = b.state_rank > a.state_rank || (b.state_rank === a.state_rank && b.state_rx >= a.state_rx);
  const laterFix = b.last_fix_rx !== null && (a.last_fix_rx === null || b.last_fix_rx >= a.last_fix_rx);
  const laterBattery = b.battery_rx !== null && (a.battery_rx === null || b.battery_rx >= a.battery_rx);
  return {
    ...a,
    state: laterState ? b.state : a.state,
    state_rank: Math.max(a.state_rank, b.state_rank),
    state_rx: laterState ? b.state_rx : a.state_rx,
    escalation: Math.max(a.escalation, b.escalation),
    raised_count: a.raised_count + b.raised_count,
    message_count: a.message_count + b.message_count,
    last_fix: laterFix ? b.last_fix : a.last_fix,
    last_fix_rx: laterFix ? b.last_fix_rx : a.last_fix_rx,
    battery_pct: laterBattery ? b.battery_pct : a.battery_pct,
    battery_rx: laterBattery ? b.battery_rx : a.battery_rx,
    first_rx: Math.min(a.first_rx, b.first_rx),
    last_rx: Math.max(a.last_rx, b.last_rx),
  };
}

/** Rejections as rows, a repeat of the same input within the batch dropped. */
export function rejectedRows(rejected: readonly RejectedInput[]): RejectedRow[] {
  const out: RejectedRow[] = [];
  const seen = new Set<string>();
  for (const r of rejected) {
    const payload = Buffer.from(r.payload.subarray(0, REJECTED_PAYLOAD_BYTES));
    const key = createHash('sha256').update(JSON.stringify([r.topic, r.deviceId ?? null, r.category, r.detail, r.msgId ?? null])).update(payload).digest('hex');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, rx: r.rx, topic: cleanText(r.topic), device_id: cleanOptText(r.deviceId), category: cleanText(r.category), detail: cleanText(r.detail), msg_id: cleanOptText(r.msgId), payload, pos: out.length });
  }
  return out;
}

/** Code-unit string order: one fixed order every worker sorts its rows by before locking them. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
