import type { Logger } from '../../lib/logger.js';

interface AlarmBody {
  alarmId?: unknown;
  state?: unknown;
  escalation?: unknown;
  trigger?: unknown;
  fix?: { lat?: number; lon?: number; accuracyM?: number; stale?: boolean; ageMs?: number };
  batteryPct?: unknown;
}

/**
 * Every alarm message at warn level as the ingest stores it, so the ingest's
 * console (journald) shows each SOS, re-send, cancel and acknowledgement the
 * moment it arrives, with or without the alarm desk.
 */
export function logArrivingAlarm(logger: Logger, deviceId: string, m: AlarmBody): void {
  const f = m.fix;
  logger.warn({
    deviceId, alarmId: m.alarmId, state: m.state, escalation: m.escalation, trigger: m.trigger,
    ...(f !== undefined ? { lat: f.lat, lon: f.lon, accuracyM: f.accuracyM, fixStale: f.stale, fixAgeMs: f.ageMs } : {}),
    ...(m.batteryPct !== undefined ? { batteryPct: m.batteryPct } : {}),
  }, `ALARM ${String(m.state ?? '?').toUpperCase()} from ${deviceId}`);
}

/** Logs every alarm the ingest stores (for an ingest without the desk, which logs them itself). */
export function logAlarms(ingest: { on(event: 'stored', l: (deviceId: string, stream: string, msg: AlarmBody) => void): unknown }, logger: Logger): void {
  ingest.on('stored', (deviceId, stream, msg) => {
    if (stream === 'alarm') logArrivingAlarm(logger, deviceId, msg);
  });
}
