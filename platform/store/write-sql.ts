/*
 * The write side's SQL that both dialects share: the columns of each derived
 * table (with the PostgreSQL type json_to_recordset needs) and the merge
 * rules of the rows several messages update. The merges are written with
 * CASE rather than max()/GREATEST() so one text serves SQLite and
 * PostgreSQL, and each is the SQL twin of the JS merge in derive.ts: every
 * rule is monotonic (earliest, latest, highest, a sum), so the result does
 * not depend on which worker commits first.
 */

export type PgType = 'text' | 'bigint' | 'float8' | 'boolean' | 'jsonb';

export interface TableSpec {
  table: string;
  columns: ReadonlyArray<readonly [string, PgType]>;
  /** What follows the INSERT: the conflict clause. */
  conflict: string;
}

const t = (name: string, type: PgType) => [name, type] as const;

const NEWER_FIX = 'excluded.last_fix_time IS NOT NULL AND (devices.last_fix_time IS NULL OR excluded.last_fix_time >= devices.last_fix_time)';
const NEWER_HEALTH = 'excluded.last_health_rx IS NOT NULL AND (devices.last_health_rx IS NULL OR excluded.last_health_rx >= devices.last_health_rx)';

export const PRESENCE_COLUMNS = ['presence', 'presence_boot_id', 'presence_at', 'presence_reason', 'birth_boot_id', 'agent_version'] as const;

/** first/last seen, last position and last health: merged into the stored row; returns the presence columns for the presence rule. */
export const DEVICE_TOUCH: TableSpec = {
  table: 'devices',
  columns: [t('id', 'text'), t('first_seen', 'bigint'), t('last_seen', 'bigint'), t('last_fix_time', 'bigint'), t('last_position_id', 'text'), t('last_health_rx', 'bigint'), t('last_health_id', 'text')],
  conflict: `ON CONFLICT (id) DO UPDATE SET
  first_seen = CASE WHEN devices.first_seen IS NULL OR excluded.first_seen < devices.first_seen THEN excluded.first_seen ELSE devices.first_seen END,
  last_seen = CASE WHEN devices.last_seen IS NULL OR excluded.last_seen > devices.last_seen THEN excluded.last_seen ELSE devices.last_seen END,
  last_position_id = CASE WHEN ${NEWER_FIX} THEN excluded.last_position_id ELSE devices.last_position_id END,
  last_fix_time = CASE WHEN ${NEWER_FIX} THEN excluded.last_fix_time ELSE devices.last_fix_time END,
  last_health_id = CASE WHEN ${NEWER_HEALTH} THEN excluded.last_health_id ELSE devices.last_health_id END,
  last_health_rx = CASE WHEN ${NEWER_HEALTH} THEN excluded.last_health_rx ELSE devices.last_health_rx END
RETURNING id, ${PRESENCE_COLUMNS.join(', ')}`,
};

export const POSITIONS: TableSpec = {
  table: 'positions',
  columns: [
    t('device_id', 'text'), t('msg_id', 'text'), t('fix_time', 'bigint'), t('rx', 'bigint'), t('ts', 'bigint'), t('lat', 'float8'), t('lon', 'float8'),
    t('alt_m', 'float8'), t('speed_mps', 'float8'), t('course_deg', 'float8'), t('accuracy_m', 'float8'), t('fix_type', 'text'), t('sats_used', 'bigint'),
    t('clock', 'text'), t('stale', 'boolean'), t('reason', 'text'), t('backfill', 'boolean'),
  ],
  conflict: 'ON CONFLICT DO NOTHING',
};

export const EVENTS: TableSpec = {
  table: 'events',
  columns: [t('device_id', 'text'), t('msg_id', 'text'), t('ts', 'bigint'), t('rx', 'bigint'), t('kind', 'text'), t('severity', 'text'), t('message', 'text'), t('data', 'jsonb')],
  conflict: 'ON CONFLICT DO NOTHING',
};

export const HEALTH: TableSpec = {
  table: 'health',
  columns: [t('device_id', 'text'), t('msg_id', 'text'), t('ts', 'bigint'), t('rx', 'bigint'), t('trigger', 'text'), t('battery_pct', 'float8'), t('body', 'jsonb')],
  conflict: 'ON CONFLICT DO NOTHING',
};

const LATER_STATE = 'excluded.state_rank > alarms.state_rank OR (excluded.state_rank = alarms.state_rank AND excluded.state_rx >= alarms.state_rx)';
const LATER_FIX = 'excluded.last_fix_rx IS NOT NULL AND (alarms.last_fix_rx IS NULL OR excluded.last_fix_rx >= alarms.last_fix_rx)';
const LATER_BATTERY = 'excluded.battery_rx IS NOT NULL AND (alarms.battery_rx IS NULL OR excluded.battery_rx >= alarms.battery_rx)';

export const ALARMS: TableSpec = {
  table: 'alarms',
  columns: [
    t('device_id', 'text'), t('alarm_id', 'text'), t('state', 'text'), t('state_rank', 'bigint'), t('state_rx', 'bigint'), t('trigger', 'text'), t('raised_at', 'bigint'),
    t('escalation', 'bigint'), t('raised_count', 'bigint'), t('message_count', 'bigint'), t('last_fix', 'jsonb'), t('last_fix_rx', 'bigint'),
    t('battery_pct', 'float8'), t('battery_rx', 'bigint'), t('first_rx', 'bigint'), t('last_rx', 'bigint'),
  ],
  conflict: `ON CONFLICT (device_id, alarm_id) DO UPDATE SET
  state = CASE WHEN ${LATER_STATE} THEN excluded.state ELSE alarms.state END,
  state_rx = CASE WHEN ${LATER_STATE} THEN excluded.state_rx ELSE alarms.state_rx END,
  state_rank = CASE WHEN excluded.state_rank > alarms.state_rank THEN excluded.state_rank ELSE alarms.state_rank END,
  escalation = CASE WHEN excluded.escalation > alarms.escalation THEN excluded.escalation ELSE alarms.escalation END,
  raised_count = alarms.raised_count + excluded.raised_count,
  message_count = alarms.message_count + excluded.message_count,
  last_fix = CASE WHEN ${LATER_FIX} THEN excluded.last_fix ELSE alarms.last_fix END,
  last_fix_rx = CASE WHEN ${LATER_FIX} THEN excluded.last_fix_rx ELSE alarms.last_fix_rx END,
  battery_pct = CASE WHEN ${LATER_BATTERY} THEN excluded.battery_pct ELSE alarms.battery_pct END,
  battery_rx = CASE WHEN ${LATER_BATTERY} THEN excluded.battery_rx ELSE alarms.battery_rx END,
  first_rx = CASE WHEN excluded.first_rx < alarms.first_rx THEN excluded.first_rx ELSE alarms.first_rx END,
  last_rx = CASE WHEN excluded.last_rx > alarms.last_rx THEN excluded.last_rx ELSE alarms.last_rx END`,
};

export const ALARM_HISTORY: TableSpec = {
  table: 'alarm_history',
  columns: [t('device_id', 'text'), t('msg_id', 'text'), t('alarm_id', 'text'), t('state', 'text'), t('escalation', 'bigint'), t('seq', 'bigint'), t('ts', 'bigint'), t('rx', 'bigint')],
  conflict: 'ON CONFLICT DO NOTHING',
};

export const RESULTS: TableSpec = {
  table: 'results',
  columns: [
    t('device_id', 'text'), t('request_id', 'text'), t('msg_id', 'text'), t('name', 'text'), t('status', 'text'), t('reason', 'text'), t('result', 'jsonb'),
    t('restart_required', 'boolean'), t('ts', 'bigint'), t('rx', 'bigint'),
  ],
  // The latest answer wins (by receipt), whichever worker commits it.
  conflict: `ON CONFLICT (device_id, request_id) DO UPDATE SET
  msg_id = excluded.msg_id, name = excluded.name, status = excluded.status, reason = excluded.reason, result = excluded.result,
  restart_required = excluded.restart_required, ts = excluded.ts, rx = excluded.rx
WHERE excluded.rx >= results.rx`,
};

export const PRESENCE_UPDATE = `UPDATE devices SET ${PRESENCE_COLUMNS.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`;

export const REGISTER_KEY = `INSERT INTO devices (id, public_key, key_registered_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key, key_registered_at = excluded.key_registered_at`;

// ---- evidence index --------------------------------------------------------

export const CHUNK_INSERT = `INSERT INTO chunks (device_id, session_id, idx, sha256, bytes, path, link, start_time, end_time, verified, stored_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
export const CHUNK_GET = 'SELECT link, verified FROM chunks WHERE device_id = ? AND session_id = ? AND idx = ?';
export const CHUNK_VERIFY = 'UPDATE chunks SET verified = ? WHERE device_id = ? AND session_id = ? AND idx = ?';

/** A chunk opens its visit (or widens a visit still recording to cover it). */
export const VISIT_FROM_CHUNK = `INSERT INTO visits (device_id, session_id, visit_id, started_at, ended_at, state, verification, updated_at)
VALUES (?, ?, ?, ?, ?, 'recording', 'pending', ?)
ON CONFLICT (device_id, session_id) DO UPDATE SET
  visit_id = COALESCE(visits.visit_id, excluded.visit_id),
  started_at = CASE WHEN visits.state = 'recording' AND (visits.started_at IS NULL OR excluded.started_at < visits.started_at) THEN excluded.started_at ELSE visits.started_at END,
  ended_at = CASE WHEN visits.state = 'recording' AND (visits.ended_at IS NULL OR excluded.ended_at > visits.ended_at) THEN excluded.ended_at ELSE visits.ended_at END,
  updated_at = excluded.updated_at`;

/** A manifest closes its visit; the same manifest with the same verification again changes nothing. */
export const VISIT_FROM_MANIFEST = `INSERT INTO visits (device_id, session_id, visit_id, trigger, started_at, ended_at, state, verification, verification_detail, manifest, manifest_path, manifest_link, manifest_sig, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 'closed', ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id, session_id) DO UPDATE SET
  visit_id = excluded.visit_id, trigger = excluded.trigger, started_at = excluded.started_at, ended_at = excluded.ended_at, state = 'closed',
  verification = excluded.verification, verification_detail = excluded.verification_detail, manifest = excluded.manifest,
  manifest_path = excluded.manifest_path, manifest_link = excluded.manifest_link, manifest_sig = excluded.manifest_sig, updated_at = excluded.updated_at
WHERE visits.manifest_link IS DISTINCT FROM excluded.manifest_link OR visits.manifest_sig IS DISTINCT FROM excluded.manifest_sig
  OR visits.verification IS DISTINCT FROM excluded.verification OR visits.manifest_path IS DISTINCT FROM excluded.manifest_path`;
