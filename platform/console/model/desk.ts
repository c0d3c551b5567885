import type { ApiAlarm } from './types.js';

/*
 * What the desk shows and in which order. An alarm nobody has acknowledged
 * holds the top of every page and sounds; one acknowledged but not resolved
 * stays below it; one the nurse cancelled is shown as cancelled for a while,
 * so nobody wonders where it went. Pure.
 */

/** A cancelled or resolved alarm stays visible on the desk this long. */
export const SHOW_CLOSED_MS = 15 * 60_000;

export const alarmKey = (a: Pick<ApiAlarm, 'deviceId' | 'alarmId'>): string => `${a.deviceId}/${a.alarmId}`;

/** Nobody has acknowledged it yet: it holds the screen and sounds. */
export function needsAcknowledgement(a: ApiAlarm): boolean {
  return a.state === 'raised' || a.state === 'notifying';
}

/** Acknowledged but not yet resolved. */
export function inHand(a: ApiAlarm): boolean {
  return a.state === 'acknowledged';
}

/** When it was closed (cancelled or resolved), from its history. */
export function closedAt(a: ApiAlarm): number | undefined {
  if (a.state === 'resolved') return a.resolvedAt ?? a.history.at(-1)?.at;
  if (a.state === 'cancelled') return [...a.history].reverse().find((h) => h.state === 'cancelled')?.at ?? a.history.at(-1)?.at;
  return undefined;
}

export interface DeskView {
  /** Unacknowledged, oldest raised first: the one waiting longest on top. */
  waiting: ApiAlarm[];
  /** Acknowledged, not resolved, newest acknowledged first. */
  inHand: ApiAlarm[];
  /** Cancelled or resolved within SHOW_CLOSED_MS, newest first. */
  closed: ApiAlarm[];
}

export function deskView(alarms: Iterable<ApiAlarm>, now: number): DeskView {
  const v: DeskView = { waiting: [], inHand: [], closed: [] };
  for (const a of alarms) {
    if (needsAcknowledgement(a)) v.waiting.push(a);
    else if (inHand(a)) v.inHand.push(a);
    else {
      const at = closedAt(a);
      if (at !== undefined && now - at <= SHOW_CLOSED_MS) v.closed.push(a);
    }
  }
  v.waiting.sort((x, y) => x.raisedAt - y.raisedAt || alarmKey(x).localeCompare(alarmKey(y)));
  v.inHand.sort((x, y) => (y.acknowledgedAt ?? 0) - (x.acknowledgedAt ?? 0));
  v.closed.sort((x, y) => (closedAt(y) ?? 0) - (closedAt(x) ?? 0));
  return v;
}

export interface TimelineEntry {
  at: number;
  kind: 'state' | 'attempt' | 'device' | 'command';
  text: string;
  /** ok: sent/acknowledged; bad: failed; wait: pending. */
  tone: 'ok' | 'bad' | 'wait' | 'info';
}

const STATE_TEXT: Record<ApiAlarm['state'], string> = {
  raised: 'raised',
  notifying: 'notifying contacts',
  acknowledged: 'acknowledged',
  resolved: 'resolved',
  cancelled: 'cancelled by the nurse',
};

/** The escalation timeline: state changes, every notification attempt, the ack command and the device's answer, oldest first. */
export function alarmTimeline(a: ApiAlarm): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const h of a.history) {
    const by = h.by !== undefined ? ` by ${h.by}` : '';
    const note = h.note !== undefined ? `: "${h.note}"` : '';
    out.push({ at: h.at, kind: 'state', text: `${STATE_TEXT[h.state]}${by}${note}`, tone: h.state === 'acknowledged' || h.state === 'resolved' ? 'ok' : 'info' });
  }
  for (const t of a.attempts) {
    const latency = t.latencyMs !== undefined ? `, ${Math.round(t.latencyMs)} ms` : '';
    const err = t.error !== undefined ? `: ${t.error}` : '';
    out.push({
      at: t.at, kind: 'attempt',
      text: `tier ${t.tier + 1}${t.attempt > 0 ? ` (repeat ${t.attempt})` : ''} · ${t.channel} → ${t.recipient}: ${t.result}${latency}${err}`,
      tone: t.result === 'sent' ? 'ok' : t.result === 'failed' ? 'bad' : 'wait',
    });
  }
  const c = a.ackCommand;
  if (c !== undefined) {
    out.push({ at: c.sentAt, kind: 'command', text: 'alarm.ack sent to the device', tone: 'info' });
    if (c.answeredAt !== undefined) out.push({ at: c.answeredAt, kind: 'command', text: `device answered alarm.ack: ${c.status ?? '?'}${c.reason !== undefined ? ` (${c.reason})` : ''}`, tone: c.status === 'ok' ? 'ok' : 'bad' });
  }
  if (a.deviceAcknowledgedAt !== undefined) out.push({ at: a.deviceAcknowledgedAt, kind: 'device', text: 'the device shows the alarm as acknowledged', tone: 'ok' });
  return out.sort((x, y) => x.at - y.at);
}

/** The device's own view, in words: what it last reported and how often it re-sent. */
export function deviceSide(a: ApiAlarm): string {
  const resends = a.resends === 0 ? 'no re-sends' : `${a.resends} re-send${a.resends === 1 ? '' : 's'}`;
  const state = { raised: 'raised on the device', acknowledged: 'acknowledged on the device', cancelled: 'cancelled on the device', resolved: 'resolved on the device' }[a.deviceState];
  return `${state}, ${resends}`;
}
