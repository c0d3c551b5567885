import { useEffect, useState } from 'preact/hooks';
import { clockTime, dateTime, formatAge } from '../../model/age.js';
import { alarmKey, alarmTimeline, deskView, deviceSide, needsAcknowledgement } from '../../model/desk.js';
import type { ApiAlarm } from '../../model/types.js';
import { withQuery } from '../api.js';
import { href, useConsole, useTopics } from '../hooks.js';
import type { SoundState } from '../sound.js';
import { Age, Badge, ErrorLine, useAction, useSecond } from './widgets.js';

/*
 * The alarm desk. An alarm nobody acknowledged holds the top of every page
 * (the strip), sounds, and offers Acknowledge — one click, the name recorded
 * is the token's. Acknowledged ones stay below until resolved with a note;
 * cancelled ones are shown as cancelled. A viewer sees everything and can do
 * nothing.
 */

const STATE_LABEL: Record<ApiAlarm['state'], string> = {
  raised: 'RAISED — not acknowledged',
  notifying: 'NOT ACKNOWLEDGED — contacts being notified',
  acknowledged: 'acknowledged',
  resolved: 'resolved',
  cancelled: 'cancelled by the nurse',
};

const TRIGGER: Record<ApiAlarm['trigger'], string> = { button: 'SOS button', command: 'raised by command', test: 'test alarm' };

function alarmPath(a: ApiAlarm, action: 'ack' | 'resolve'): string {
  return withQuery(`/api/alarms/${encodeURIComponent(a.alarmId)}/${action}`, { deviceId: a.deviceId });
}

function Acknowledge({ alarm }: { alarm: ApiAlarm }) {
  const { api, state } = useConsole();
  const act = useAction();
  return (
    <span class="action">
      <button type="button" class="ack" data-action="acknowledge" disabled={act.busy}
        onClick={() => void act.run(async () => {
          const r = await api.post<{ alarm: ApiAlarm }>(alarmPath(alarm, 'ack'));
          state.putAlarm(r.alarm);
        })}>
        {act.busy ? 'Acknowledging…' : 'Acknowledge'}
      </button>
      <ErrorLine error={act.error} />
    </span>
  );
}

function Resolve({ alarm }: { alarm: ApiAlarm }) {
  const { api, state } = useConsole();
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState('');
  const act = useAction();
  if (!open) return <button type="button" data-action="resolve" onClick={() => setOpen(true)}>Resolve…</button>;
  return (
    <form class="resolve" onSubmit={(e) => {
      e.preventDefault();
      void act.run(async () => {
        const r = await api.post<{ alarm: ApiAlarm }>(alarmPath(alarm, 'resolve'), { note: note.trim() });
        state.putAlarm(r.alarm);
        setOpen(false);
      });
    }}>
      <label>What happened (recorded with your name)
        <textarea name="note" required maxLength={2000} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
      </label>
      <button type="submit" data-action="resolve-submit" disabled={act.busy || note.trim() === ''}>Resolve</button>
      <button type="button" onClick={() => setOpen(false)}>Cancel</button>
      <ErrorLine error={act.error} />
    </form>
  );
}

function Position({ alarm }: { alarm: ApiAlarm }) {
  const { state } = useConsole();
  const live = state.devices.get(alarm.deviceId)?.lastPosition;
  const f = alarm.lastFix;
  const fix = live !== undefined && (f === undefined || live.fixTime > f.time) ? { lat: live.lat, lon: live.lon, accuracyM: live.accuracyM, time: live.fixTime, what: 'latest position' } : f === undefined ? undefined : { lat: f.lat, lon: f.lon, accuracyM: f.accuracyM, time: f.time, what: 'position with the alarm' };
  if (fix === undefined) return <span class="muted">no position known</span>;
  return (
    <span class="position">
      {fix.what}: {fix.lat.toFixed(5)}, {fix.lon.toFixed(5)}{fix.accuracyM !== undefined ? ` ±${Math.round(fix.accuracyM)} m` : ''} · <Age t={fix.time} every={30_000} /> · <a href={href('map', alarm.deviceId)}>show on map</a>
    </span>
  );
}

/** The battery sent with the alarm, else the device's last health report (with its age). */
function Battery({ alarm }: { alarm: ApiAlarm }) {
  const { state } = useConsole();
  if (alarm.batteryPct !== undefined) return <span>{Math.round(alarm.batteryPct)} % (with the alarm)</span>;
  const h = state.devices.get(alarm.deviceId)?.lastHealth;
  const pct = h?.report.battery?.pct ?? h?.batteryPct;
  if (h === undefined || pct === undefined) return <span class="muted">unknown</span>;
  return <span>{Math.round(pct)} % (health report <Age t={h.rx} every={120_000} />)</span>;
}

function Escalation({ alarm }: { alarm: ApiAlarm }) {
  const { state } = useConsole();
  useSecond();
  if (!needsAcknowledgement(alarm)) return null;
  if (alarm.attempts.length === 0 && alarm.nextStepAt === undefined) return <span class="muted">nobody is notified for this device (no contacts): this desk is the only place it shows</span>;
  const next = alarm.nextStepAt === undefined ? '' : ` · next step ${alarm.nextStepAt > state.serverNow() ? `in ${formatAge(alarm.nextStepAt - state.serverNow())}` : 'due now'}`;
  return <span>tier {alarm.tier + 1}{next}</span>;
}

export function AlarmCard({ alarm, compact }: { alarm: ApiAlarm; compact?: boolean }) {
  const { state } = useConsole();
  const canAct = state.me !== undefined && state.me.role !== 'viewer';
  const waiting = needsAcknowledgement(alarm);
  const cls = waiting ? 'waiting' : alarm.state === 'acknowledged' ? 'inhand' : alarm.state;
  const name = state.nameOf(alarm.deviceId);
  return (
    <article class={`alarm ${cls}${compact === true ? ' compact' : ''}`} data-alarm-id={alarm.alarmId} data-device-id={alarm.deviceId} data-state={alarm.state}>
      <header>
        <strong class="who">{name}</strong>{name !== alarm.deviceId ? <span class="muted"> ({alarm.deviceId})</span> : null}
        <span class="what"> · {TRIGGER[alarm.trigger]} · raised {clockTime(alarm.raisedAt)} (<Age t={alarm.raisedAt} />)</span>
        <Badge tone={waiting ? 'bad' : alarm.state === 'cancelled' ? 'muted' : alarm.state === 'acknowledged' ? 'warn' : 'ok'}>{STATE_LABEL[alarm.state]}</Badge>
      </header>
      {alarm.state === 'acknowledged' && alarm.acknowledgedBy !== undefined
        ? <p class="by">Acknowledged by <strong data-field="acknowledged-by">{alarm.acknowledgedBy}</strong> at {clockTime(alarm.acknowledgedAt ?? 0)} (<Age t={alarm.acknowledgedAt} />)</p> : null}
      {alarm.state === 'resolved' ? <p class="by">Resolved by <strong>{alarm.resolvedBy}</strong> (<Age t={alarm.resolvedAt} />): “{alarm.note}”</p> : null}
      {alarm.state === 'cancelled' ? <p class="by">The nurse cancelled this alarm on the device (double press) <Age t={alarm.history.at(-1)?.at} />.</p> : null}
      {compact === true ? null : (
        <dl class="facts">
          <dt>Where</dt><dd><Position alarm={alarm} /></dd>
          <dt>Battery</dt><dd><Battery alarm={alarm} /></dd>
          <dt>Device</dt><dd data-field="device-side">{deviceSide(alarm)}{alarm.deviceAcknowledgedAt !== undefined ? <> · acknowledged on the device <Age t={alarm.deviceAcknowledgedAt} /></> : null}</dd>
          <dt>Escalation</dt><dd><Escalation alarm={alarm} /></dd>
          <dt>Alarm</dt><dd class="muted">{alarm.alarmId}</dd>
        </dl>
      )}
      {compact === true ? null : <Timeline alarm={alarm} />}
      <footer>
        {waiting && canAct ? <Acknowledge alarm={alarm} /> : null}
        {alarm.state === 'acknowledged' && canAct ? <Resolve alarm={alarm} /> : null}
        {waiting && !canAct ? <span class="muted" data-field="read-only">viewer token: you see alarms but cannot acknowledge them</span> : null}
        <a href={href('alarms', alarm.deviceId, alarm.alarmId)}>details</a>
      </footer>
    </article>
  );
}

function Timeline({ alarm }: { alarm: ApiAlarm }) {
  const entries = alarmTimeline(alarm);
  return (
    <ol class="timeline" aria-label="escalation timeline">
      {entries.map((e, i) => (
        <li key={i} class={`${e.kind} ${e.tone}`} data-kind={e.kind}><time title={dateTime(e.at)}>{clockTime(e.at)}</time> {e.text}</li>
      ))}
    </ol>
  );
}

function SoundNote({ sound }: { sound: SoundState }) {
  if (sound === 'playing') return <p class="sound playing" data-sound="playing">Alarm sound on until every alarm is acknowledged.</p>;
  if (sound === 'blocked') return <p class="sound blocked" data-sound="blocked" role="alert">The browser is blocking the alarm sound. Click anywhere on this page to let it sound.</p>;
  if (sound === 'unsupported') return <p class="sound blocked" data-sound="unsupported">This browser cannot play the alarm sound: watch the screen.</p>;
  return null;
}

/** The strip on top of every page: every open alarm, the unacknowledged ones first and in full. */
export function AlarmStrip({ sound }: { sound: SoundState }) {
  const { state } = useConsole();
  useTopics('alarms', 'devices', 'session');
  useSecond();
  const v = deskView(state.alarms.values(), state.serverNow());
  if (v.waiting.length + v.inHand.length + v.closed.length === 0) return null;
  return (
    <section class={`strip${v.waiting.length > 0 ? ' alerting' : ''}`} aria-live="assertive" data-waiting={v.waiting.length}>
      {v.waiting.length > 0 ? <SoundNote sound={sound} /> : null}
      {v.waiting.map((a) => <AlarmCard key={alarmKey(a)} alarm={a} />)}
      {v.inHand.map((a) => <AlarmCard key={alarmKey(a)} alarm={a} compact />)}
      {v.closed.map((a) => <AlarmCard key={alarmKey(a)} alarm={a} compact />)}
    </section>
  );
}

/** #/alarms: every alarm of the last 12 hours; #/alarms/DEVICE/ALARM: one in full. */
/** One alarm in full: from the console's state, or fetched (a link from a notification to an older alarm). */
function OneAlarm({ deviceId, alarmId }: { deviceId: string; alarmId: string }) {
  const { api, state } = useConsole();
  const [error, setError] = useState<string | undefined>(undefined);
  const a = state.alarms.get(`${deviceId}/${alarmId}`);
  useEffect(() => {
    if (a !== undefined) return;
    api.get<ApiAlarm>(withQuery(`/api/alarms/${encodeURIComponent(alarmId)}`, { deviceId })).then((x) => state.putAlarm(x), (e: Error) => setError(e.message));
  }, [deviceId, alarmId]);
  if (a === undefined) return error !== undefined ? <ErrorLine error={error} /> : <p class="muted">loading…</p>;
  return <div class="page"><h2>Alarm {a.alarmId}</h2><AlarmCard alarm={a} /></div>;
}

export function AlarmsPage({ route }: { route: string[] }) {
  const { state } = useConsole();
  useTopics('alarms', 'session');
  if (route.length >= 3) return <OneAlarm deviceId={route[1]} alarmId={route[2]} />;
  const all = [...state.alarms.values()].sort((x, y) => y.raisedAt - x.raisedAt);
  return (
    <div class="page">
      <h2>Alarms (last 12 hours)</h2>
      {all.length === 0 ? <p class="muted">No alarms.</p> : (
        <table class="list">
          <thead><tr><th>Raised</th><th>Nurse</th><th>State</th><th>Acknowledged by</th><th>Resolved</th></tr></thead>
          <tbody>
            {all.map((a) => (
              <tr key={alarmKey(a)} class={a.state}>
                <td><a href={href('alarms', a.deviceId, a.alarmId)}>{dateTime(a.raisedAt)}</a> (<Age t={a.raisedAt} />)</td>
                <td>{state.nameOf(a.deviceId)}</td>
                <td>{STATE_LABEL[a.state]}</td>
                <td>{a.acknowledgedBy ?? ''}</td>
                <td>{a.resolvedBy !== undefined ? `${a.resolvedBy}: ${a.note ?? ''}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
