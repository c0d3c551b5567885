import type { Fix, Manifest } from '../../protocol/index.js';
import type {
  AlarmHistoryEntry,
  AlarmView,
  ChunkView,
  DeviceAlarmState,
  DeviceView,
  EventView,
  HealthView,
  PositionView,
  PresenceState,
  ResultView,
  VisitView,
} from './views.js';

/*
 * Rows as the drivers return them, turned into the typed views. Both
 * back-ends use the same column names; they differ only in how a JSON column
 * arrives (SQLite: text; PostgreSQL: already parsed) and in booleans (0/1 or
 * true/false), which `Codec` and `bool` absorb.
 */

export type Row = Record<string, unknown>;

export interface Codec {
  /** A JSON column's value as a JS value (undefined for NULL). */
  json(v: unknown): unknown;
}

export const TEXT_JSON: Codec = { json: (v) => (v === null || v === undefined ? undefined : JSON.parse(v as string)) };
export const NATIVE_JSON: Codec = { json: (v) => (v === null ? undefined : v) };

const bool = (v: unknown): boolean => v === true || v === 1;
const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

/** Drops keys whose value is undefined, so views compare equal to what was sent. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

export const POSITION_COLUMNS = ['device_id', 'msg_id', 'fix_time', 'rx', 'ts', 'lat', 'lon', 'alt_m', 'speed_mps', 'course_deg', 'accuracy_m', 'fix_type', 'sats_used', 'clock', 'stale', 'reason', 'backfill'] as const;
export const HEALTH_COLUMNS = ['device_id', 'msg_id', 'ts', 'rx', 'trigger', 'battery_pct', 'body'] as const;

/** `a.col AS p_col, …`: a joined table's columns under a prefix. */
export function prefixed(alias: string, prefix: string, columns: readonly string[]): string {
  return columns.map((c) => `${alias}.${c} AS ${prefix}${c}`).join(', ');
}

export function toPosition(r: Row, p = ''): PositionView {
  return compact({
    deviceId: String(r[`${p}device_id`]),
    msgId: String(r[`${p}msg_id`]),
    fixTime: num(r[`${p}fix_time`]),
    rx: num(r[`${p}rx`]),
    ts: num(r[`${p}ts`]),
    lat: num(r[`${p}lat`]),
    lon: num(r[`${p}lon`]),
    altM: optNum(r[`${p}alt_m`]),
    speedMps: optNum(r[`${p}speed_mps`]),
    courseDeg: optNum(r[`${p}course_deg`]),
    accuracyM: optNum(r[`${p}accuracy_m`]),
    fixType: String(r[`${p}fix_type`]) as Fix['fixType'],
    satsUsed: optNum(r[`${p}sats_used`]),
    clock: optStr(r[`${p}clock`]) as PositionView['clock'],
    stale: bool(r[`${p}stale`]),
    reason: optStr(r[`${p}reason`]),
    backfill: bool(r[`${p}backfill`]),
  });
}

export function toHealth(r: Row, c: Codec, p = ''): HealthView {
  return compact({
    deviceId: String(r[`${p}device_id`]),
    msgId: String(r[`${p}msg_id`]),
    ts: num(r[`${p}ts`]),
    rx: num(r[`${p}rx`]),
    trigger: String(r[`${p}trigger`]),
    batteryPct: optNum(r[`${p}battery_pct`]),
    health: c.json(r[`${p}body`]) as Record<string, unknown>,
  });
}

/** A device row joined with its last position (columns p_*) and last health (h_*). */
export function toDevice(r: Row, c: Codec): DeviceView {
  const presence = optStr(r.presence) as PresenceState | undefined;
  return compact({
    id: String(r.id),
    firstSeen: optNum(r.first_seen),
    lastSeen: optNum(r.last_seen),
    presence: presence === undefined ? undefined : compact({ state: presence, bootId: String(r.presence_boot_id), at: num(r.presence_at), reason: optStr(r.presence_reason) }),
    birthBootId: optStr(r.birth_boot_id),
    agentVersion: optStr(r.agent_version),
    lastPosition: r.p_msg_id === null || r.p_msg_id === undefined ? undefined : toPosition(r, 'p_'),
    lastHealth: r.h_msg_id === null || r.h_msg_id === undefined ? undefined : toHealth(r, c, 'h_'),
    publicKey: optStr(r.public_key),
    keyRegisteredAt: optNum(r.key_registered_at),
  });
}

export function toEvent(r: Row, c: Codec): EventView {
  return compact({
    deviceId: String(r.device_id),
    msgId: String(r.msg_id),
    ts: num(r.ts),
    rx: num(r.rx),
    kind: String(r.kind),
    severity: String(r.severity) as EventView['severity'],
    message: String(r.message),
    data: c.json(r.data) as Record<string, unknown> | undefined,
  });
}

export function toAlarm(r: Row, c: Codec): AlarmView {
  return compact({
    deviceId: String(r.device_id),
    alarmId: String(r.alarm_id),
    state: String(r.state) as DeviceAlarmState,
    trigger: String(r.trigger) as AlarmView['trigger'],
    raisedAt: num(r.raised_at),
    escalation: num(r.escalation),
    resends: Math.max(0, num(r.raised_count) - 1),
    messages: num(r.message_count),
    lastFix: c.json(r.last_fix) as Fix | undefined,
    batteryPct: optNum(r.battery_pct),
    firstRx: num(r.first_rx),
    lastRx: num(r.last_rx),
  });
}

export function toAlarmHistory(r: Row): AlarmHistoryEntry {
  return { msgId: String(r.msg_id), state: String(r.state) as DeviceAlarmState, escalation: num(r.escalation), seq: num(r.seq), ts: num(r.ts), rx: num(r.rx) };
}

export function toResult(r: Row, c: Codec): ResultView {
  return compact({
    deviceId: String(r.device_id),
    requestId: String(r.request_id),
    msgId: String(r.msg_id),
    name: String(r.name),
    status: String(r.status) as ResultView['status'],
    reason: optStr(r.reason),
    result: c.json(r.result),
    restartRequired: bool(r.restart_required),
    ts: num(r.ts),
    rx: num(r.rx),
  });
}

export function toChunk(r: Row): ChunkView {
  return {
    index: num(r.idx),
    sha256: String(r.sha256),
    bytes: num(r.bytes),
    path: String(r.path),
    link: String(r.link),
    startTime: num(r.start_time),
    endTime: num(r.end_time),
    verified: bool(r.verified),
    storedAt: num(r.stored_at),
  };
}

export function toVisit(r: Row, chunks: ChunkView[]): VisitView {
  return compact({
    deviceId: String(r.device_id),
    sessionId: String(r.session_id),
    visitId: optStr(r.visit_id),
    trigger: optStr(r.trigger) as VisitView['trigger'],
    startedAt: optNum(r.started_at),
    endedAt: optNum(r.ended_at),
    state: String(r.state) as VisitView['state'],
    verification: String(r.verification) as VisitView['verification'],
    verificationDetail: optStr(r.verification_detail),
    // Kept as the text that was stored (a signed document), in both back-ends.
    manifest: r.manifest === null || r.manifest === undefined ? undefined : (JSON.parse(String(r.manifest)) as Manifest),
    manifestPath: optStr(r.manifest_path),
    chunks,
  });
}
