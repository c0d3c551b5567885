import type { Fix } from '../../protocol/index.js';
import type { PlatformStore } from '../store/types.js';
import type { AlarmDetail, PositionView } from '../store/views.js';
import { SELECT_ATTEMPTS, SELECT_HISTORY, toAttempt, type DeskRow } from './desk-rows.js';
import type { DeskAlarm, DeskState, NotificationAttempt, SentCommand } from './types.js';

/** A stored position as a protocol Fix (the device's last position, when the alarm carried none). */
export function positionFix(p: PositionView): Fix {
  const f: Fix = { lat: p.lat, lon: p.lon, time: p.fixTime, fixType: p.fixType };
  if (p.accuracyM !== undefined) f.accuracyM = p.accuracyM;
  if (p.altM !== undefined) f.altM = p.altM;
  if (p.speedMps !== undefined) f.speedMps = p.speedMps;
  if (p.courseDeg !== undefined) f.courseDeg = p.courseDeg;
  if (p.satsUsed !== undefined) f.satsUsed = p.satsUsed;
  if (p.stale) f.stale = true;
  return f;
}

/** The alarm's fix, else the device's last stored position (and which it was). */
export async function bestFix(store: PlatformStore, view: AlarmDetail | undefined, deviceId: string): Promise<{ fix?: Fix; source?: 'alarm' | 'last-position' }> {
  if (view?.lastFix !== undefined) return { fix: view.lastFix, source: 'alarm' };
  const last = (await store.device(deviceId))?.lastPosition;
  return last === undefined ? {} : { fix: positionFix(last), source: 'last-position' };
}

/** Everything the API shows of one alarm: the desk's row, its history and attempts, the device's facts, the ack command. */
export async function deskAlarm(store: PlatformStore, row: DeskRow, getCommand: (requestId: string) => Promise<SentCommand | undefined>): Promise<DeskAlarm> {
  const [view, history, attempts] = await Promise.all([
    store.alarm(row.deviceId, row.alarmId),
    store.select(SELECT_HISTORY, [row.deviceId, row.alarmId]),
    store.select(SELECT_ATTEMPTS, [row.deviceId, row.alarmId]),
  ]);
  const { fix } = await bestFix(store, view, row.deviceId);
  const a: DeskAlarm = {
    deviceId: row.deviceId,
    alarmId: row.alarmId,
    state: row.state,
    deviceState: view?.state ?? 'raised',
    raisedAt: view?.raisedAt ?? row.receivedAt,
    receivedAt: row.receivedAt,
    trigger: view?.trigger ?? 'button',
    resends: view?.resends ?? 0,
    tier: row.tier,
    history: history.map((h) => {
      const e: DeskAlarm['history'][number] = { at: Number(h.at), state: String(h.state) as DeskState };
      if (h.by_name !== null && h.by_name !== undefined) e.by = String(h.by_name);
      if (h.note !== null && h.note !== undefined) e.note = String(h.note);
      return e;
    }),
    attempts: attempts.map((r) => {
      const { deviceId: _d, alarmId: _a, contact: _c, owner: _o, leaseUntil: _l, ...rest } = toAttempt(r);
      return rest as NotificationAttempt;
    }),
  };
  if (row.deviceAcknowledgedAt !== undefined) a.deviceAcknowledgedAt = row.deviceAcknowledgedAt;
  if (fix !== undefined) a.lastFix = fix;
  if (view?.batteryPct !== undefined) a.batteryPct = view.batteryPct;
  if ((row.state === 'raised' || row.state === 'notifying') && row.nextStepAt !== undefined) a.nextStepAt = row.nextStepAt;
  if (row.acknowledgedBy !== undefined) a.acknowledgedBy = row.acknowledgedBy;
  if (row.acknowledgedAt !== undefined) a.acknowledgedAt = row.acknowledgedAt;
  if (row.resolvedBy !== undefined) a.resolvedBy = row.resolvedBy;
  if (row.resolvedAt !== undefined) a.resolvedAt = row.resolvedAt;
  if (row.note !== undefined) a.note = row.note;
  if (row.ackRequestId !== undefined) {
    const c = await getCommand(row.ackRequestId);
    a.ackCommand = { requestId: row.ackRequestId, sentAt: c?.sentAt ?? row.acknowledgedAt ?? row.updatedAt };
    if (c !== undefined) {
      a.ackCommand.status = c.status;
      if (c.reason !== undefined) a.ackCommand.reason = c.reason;
      if (c.answeredAt !== undefined) a.ackCommand.answeredAt = c.answeredAt;
    }
  }
  return a;
}
