import type { Fix } from '../../protocol/index.js';
import type { DeskState } from './types.js';

/*
 * What every channel says about an alarm, built once per step and contact:
 * who (the wearer's name from the contacts file, else the device id), where
 * (the last position with its age and accuracy, and a map link), which alarm,
 * and how to acknowledge it. Pure: the caller passes the time.
 */

export interface NoticeInput {
  key: string;
  deviceId: string;
  deviceName: string;
  alarmId: string;
  state: DeskState;
  trigger: 'button' | 'command' | 'test';
  raisedAt: number;
  receivedAt: number;
  tier: number;
  attempt: number;
  /** The alarm's own fix, else the device's last stored position. */
  fix?: Fix;
  fixSource?: 'alarm' | 'last-position';
  batteryPct?: number;
  acknowledge: { consoleUrl?: string; apiUrl?: string };
}

export interface NoticePosition {
  lat: number;
  lon: number;
  accuracyM?: number;
  /** Receiver time of the fix, and its age when the notice was made. */
  fixTime: number;
  ageS: number;
  /** The device's last known fix rather than a current one. */
  stale: boolean;
  source: 'alarm' | 'last-position';
}

/** The webhook's JSON body, and the facts the other channels format. */
export interface Notice {
  v: 1;
  /** Traccar's vocabulary: an `alarm` event of type `sos`. */
  type: 'alarm';
  alarm: 'sos';
  /** Idempotency key: the same for a retry, different for every step and recipient. */
  key: string;
  deviceId: string;
  deviceName: string;
  alarmId: string;
  state: DeskState;
  trigger: 'button' | 'command' | 'test';
  raisedAt: number;
  receivedAt: number;
  /** Escalation tier (0 = first) and how many times this tier has been told before. */
  tier: number;
  attempt: number;
  position?: NoticePosition;
  mapUrl?: string;
  batteryPct?: number;
  acknowledge: { consoleUrl?: string; apiUrl?: string; api: string };
  subject: string;
  /** Plain text for e-mail and people. */
  text: string;
  /** One short paragraph for SMS. */
  short: string;
}

/** An OpenStreetMap link with a marker at the position. */
export function mapUrl(lat: number, lon: number): string {
  const la = lat.toFixed(6);
  const lo = lon.toFixed(6);
  return `https://www.openstreetmap.org/?mlat=${la}&mlon=${lo}#map=18/${la}/${lo}`;
}

/** "40 s", "12 min", "3 h 5 min", "2 d". */
export function formatAge(ageS: number): string {
  const s = Math.max(0, Math.round(ageS));
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h${m % 60 === 0 ? '' : ` ${m % 60} min`}`;
  return `${Math.floor(h / 24)} d`;
}

const fill = (template: string, deviceId: string, alarmId: string) =>
  template.replaceAll('{deviceId}', encodeURIComponent(deviceId)).replaceAll('{alarmId}', encodeURIComponent(alarmId));

export function buildNotice(n: NoticeInput, now: number): Notice {
  const api = `POST /api/alarms/${encodeURIComponent(n.alarmId)}/ack`;
  const acknowledge = {
    ...(n.acknowledge.consoleUrl !== undefined ? { consoleUrl: fill(n.acknowledge.consoleUrl, n.deviceId, n.alarmId) } : {}),
    ...(n.acknowledge.apiUrl !== undefined ? { apiUrl: fill(n.acknowledge.apiUrl, n.deviceId, n.alarmId) } : {}),
    api,
  };
  const position: NoticePosition | undefined = n.fix === undefined ? undefined : {
    lat: n.fix.lat,
    lon: n.fix.lon,
    ...(n.fix.accuracyM !== undefined ? { accuracyM: n.fix.accuracyM } : {}),
    fixTime: n.fix.time,
    ageS: Math.max(0, Math.round((now - n.fix.time) / 1000)),
    stale: n.fix.stale === true,
    source: n.fixSource ?? 'alarm',
  };
  const link = position === undefined ? undefined : mapUrl(position.lat, position.lon);
  const who = n.deviceName === n.deviceId ? n.deviceId : `${n.deviceName} (${n.deviceId})`;
  const what = n.trigger === 'button' ? 'SOS' : n.trigger === 'test' ? 'TEST alarm' : 'Alarm';
  const where = position === undefined
    ? 'Position: unknown (no fix reported yet)'
    : `Last position: ${position.lat.toFixed(6)}, ${position.lon.toFixed(6)}${position.accuracyM !== undefined ? ` ±${Math.round(position.accuracyM)} m` : ''}, ${formatAge(position.ageS)} old${position.stale ? ' (last known fix)' : ''}`;
  const how = acknowledge.consoleUrl ?? acknowledge.apiUrl ?? api;
  const text = [
    `${what} from ${who}.`,
    `Raised ${new Date(n.raisedAt).toISOString()}; alarm ${n.alarmId}.`,
    where,
    ...(link !== undefined ? [`Map: ${link}`] : []),
    ...(n.batteryPct !== undefined ? [`Battery: ${Math.round(n.batteryPct)} %`] : []),
    ...(acknowledge.consoleUrl !== undefined ? [`Acknowledge: ${acknowledge.consoleUrl}`] : []),
    `Acknowledge over the API: POST ${acknowledge.apiUrl ?? api.slice('POST '.length)} (operator token)`,
    `Escalation tier ${n.tier + 1}${n.attempt > 0 ? `, reminder ${n.attempt}` : ''}. Until someone acknowledges, this alarm keeps being sent.`,
  ].join('\n');
  const short = [
    `${what} ${who}`,
    position === undefined ? 'position unknown' : `${position.lat.toFixed(5)},${position.lon.toFixed(5)}${position.accuracyM !== undefined ? ` ±${Math.round(position.accuracyM)}m` : ''} ${formatAge(position.ageS)} old`,
    ...(link !== undefined ? [link] : []),
    `Ack: ${how}`,
    `alarm ${n.alarmId}`,
  ].join(' · ');
  return {
    v: 1, type: 'alarm', alarm: 'sos', key: n.key, deviceId: n.deviceId, deviceName: n.deviceName, alarmId: n.alarmId, state: n.state, trigger: n.trigger,
    raisedAt: n.raisedAt, receivedAt: n.receivedAt, tier: n.tier, attempt: n.attempt,
    ...(position !== undefined ? { position, mapUrl: link } : {}),
    ...(n.batteryPct !== undefined ? { batteryPct: n.batteryPct } : {}),
    acknowledge,
    subject: `${what}: ${who}${n.attempt > 0 || n.tier > 0 ? ` (tier ${n.tier + 1}${n.attempt > 0 ? `, reminder ${n.attempt}` : ''})` : ''}`,
    text,
    short,
  };
}
