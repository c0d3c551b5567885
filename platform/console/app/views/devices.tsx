import { useEffect, useState } from 'preact/hooks';
import { clockTime, dateTime, formatBytes } from '../../model/age.js';
import type { ApiCommand, ApiDevice, ApiEvent, ApiHealth } from '../../model/types.js';
import { withQuery } from '../api.js';
import { href, useConsole, useTopics } from '../hooks.js';
import { Age, Badge, ErrorLine, useAction } from './widgets.js';

/*
 * Devices: the list with what an operator checks (online, last seen,
 * battery, storage, queue depth, GPS, firmware, last fault), and a device's
 * page with its health history and the safe commands.
 */

const HEALTH_EVERY_MS = 60_000;
const FAULT_WINDOW_MS = 24 * 3_600_000;

interface Summary {
  battery?: number;
  charging?: boolean;
  storage?: { free?: number; used: number; quota: number };
  queued?: number;
  gps?: string;
}

function summary(h: ApiHealth | undefined): Summary {
  if (h === undefined) return {};
  const r = h.report;
  const s: Summary = {};
  if (r.battery !== undefined) {
    s.battery = r.battery.pct;
    s.charging = r.battery.status === 'charging';
  } else if (h.batteryPct !== undefined) s.battery = h.batteryPct;
  s.storage = { free: r.storage.freeBytes, used: r.storage.usedBytes, quota: r.storage.quotaBytes };
  s.queued = Object.values(r.queues).reduce((n, q) => n + q.count, 0);
  const gps = r.states.gps;
  if (gps !== undefined) s.gps = describe(gps);
  return s;
}

/** A module state as the device reports it (a word, or a few fields): "connected, clockSkewS 0". */
function describe(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => (k === 'state' || k === 'link' ? String(x) : `${k} ${typeof x === 'object' ? JSON.stringify(x) : String(x)}`)).join(', ');
}

const battery = (s: Summary) => (s.battery !== undefined ? `${Math.round(s.battery)} %${s.charging === true ? ' ⚡' : ''}` : 'not reported');

function Status({ d }: { d: ApiDevice }) {
  if (d.status === 'online') return <Badge tone="ok">online</Badge>;
  const why = { will: 'connection lost', shutdown: 'shut down', silent: 'silent', 'never-seen': 'never seen' }[d.offlineCause ?? 'silent'];
  return <Badge tone="muted" title={d.offlineCause}>offline: {why}</Badge>;
}

/** Faults (warnings and worse) of the last day, newest first, refreshed every 15 s. */
function useFaults(deviceId?: string): ApiEvent[] {
  const { api, state } = useConsole();
  const [events, setEvents] = useState<ApiEvent[]>([]);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const r = await api.get<{ events: ApiEvent[] }>(withQuery('/api/events', { severity: 'warning', deviceId, from: Math.round(state.serverNow() - FAULT_WINDOW_MS), limit: 500 }));
        if (!stop) setEvents(r.events);
      } catch {
        // shown as before; the stream state says whether the platform is reachable
      }
    };
    void load();
    const t = setInterval(() => void load(), 15_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [api, deviceId]);
  return events;
}

export function DevicesPage() {
  const { state } = useConsole();
  useTopics('devices', 'session');
  const faults = useFaults();
  const last = new Map<string, ApiEvent>();
  for (const e of faults) if (!last.has(e.deviceId)) last.set(e.deviceId, e);
  const devices = [...state.devices.values()].sort((a, b) => state.nameOf(a.id).localeCompare(state.nameOf(b.id)));
  return (
    <div class="page">
      <h2>Devices ({devices.length})</h2>
      <table class="list devices">
        <thead><tr><th>Nurse / device</th><th>State</th><th>Last seen</th><th>Battery</th><th>Storage</th><th>Queued</th><th>GPS</th><th>Firmware</th><th>Last fault</th></tr></thead>
        <tbody>
          {devices.map((d) => {
            const s = summary(d.lastHealth);
            const f = last.get(d.id);
            return (
              <tr key={d.id} data-device={d.id}>
                <td><a href={href('devices', d.id)}>{state.nameOf(d.id)}</a>{state.nameOf(d.id) !== d.id ? <small class="muted"> {d.id}</small> : null}</td>
                <td><Status d={d} /></td>
                <td><Age t={d.lastSeen} every={HEALTH_EVERY_MS} /></td>
                <td>{battery(s)} <Age t={d.lastHealth?.rx} every={HEALTH_EVERY_MS} /></td>
                <td>{s.storage !== undefined ? `${s.storage.free !== undefined ? `${formatBytes(s.storage.free)} free, ` : ''}${formatBytes(s.storage.used)} of ${formatBytes(s.storage.quota)}` : '?'}</td>
                <td>{s.queued ?? '?'}</td>
                <td>{s.gps ?? '?'}{d.lastPosition !== undefined ? <> · fix <Age t={d.lastPosition.fixTime} every={60_000} /></> : null}</td>
                <td>{d.agentVersion ?? '?'}</td>
                <td>{f !== undefined ? <span class={f.severity}>{f.kind}: {f.message} <Age t={f.rx} /></span> : <span class="muted">none in 24 h</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const SAFE_COMMANDS = ['ping', 'locate', 'record.start', 'record.stop'] as const;

function Commands({ deviceId }: { deviceId: string }) {
  const { api, state } = useConsole();
  const [sent, setSent] = useState<ApiCommand[]>([]);
  const [visitId, setVisitId] = useState(() => `visit-${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '')}`);
  const act = useAction();
  const canAct = state.me !== undefined && state.me.role !== 'viewer';
  const refresh = async () => {
    const r = await api.get<{ commands: ApiCommand[] }>(withQuery(`/api/devices/${encodeURIComponent(deviceId)}/commands`, { limit: 10 }));
    setSent(r.commands);
  };
  useEffect(() => {
    void refresh().catch(() => undefined);
  }, [deviceId]);
  const send = (name: (typeof SAFE_COMMANDS)[number]) => act.run(async () => {
    const args = name === 'record.start' ? { visitId } : {};
    const pending = api.post<ApiCommand>(withQuery(`/api/devices/${encodeURIComponent(deviceId)}/commands`, { wait: 15_000 }), { name, args });
    await refresh().catch(() => undefined);
    await pending;
    await refresh();
  });
  return (
    <section class="commands">
      <h3>Commands</h3>
      {canAct ? (
        <div class="buttons">
          <button type="button" data-command="ping" disabled={act.busy} onClick={() => void send('ping')}>Ping</button>
          <button type="button" data-command="locate" disabled={act.busy} onClick={() => void send('locate')}>Locate now</button>
          <label>visit id <input value={visitId} pattern="[A-Za-z0-9_-]{1,64}" onInput={(e) => setVisitId((e.target as HTMLInputElement).value)} /></label>
          <button type="button" data-command="record.start" disabled={act.busy} onClick={() => void send('record.start')}>Start recording</button>
          <button type="button" data-command="record.stop" disabled={act.busy} onClick={() => void send('record.stop')}>Stop recording</button>
        </div>
      ) : <p class="muted">viewer token: commands need an operator.</p>}
      <ErrorLine error={act.error} />
      <table class="list">
        <thead><tr><th>Sent</th><th>Command</th><th>By</th><th>Result</th></tr></thead>
        <tbody>
          {sent.map((c) => (
            <tr key={c.requestId} data-request={c.requestId} data-status={c.status}>
              <td>{clockTime(c.sentAt)} (<Age t={c.sentAt} />)</td>
              <td>{c.name} {Object.keys(c.args).length > 0 ? <small>{JSON.stringify(c.args)}</small> : null}</td>
              <td>{c.by ?? ''}</td>
              <td><Badge tone={c.status === 'ok' ? 'ok' : c.status === 'pending' ? 'info' : 'bad'}>{c.status}</Badge>{c.reason !== undefined ? ` ${c.reason}` : ''}{c.answeredAt !== undefined ? <> <Age t={c.answeredAt} /></> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function HealthHistory({ deviceId }: { deviceId: string }) {
  const { api } = useConsole();
  const [reports, setReports] = useState<ApiHealth[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useTopics('devices');
  useEffect(() => {
    const load = () => api.get<{ reports: ApiHealth[] }>(withQuery(`/api/devices/${encodeURIComponent(deviceId)}/health`, { limit: 30 })).then((r) => setReports(r.reports), (e: Error) => setError(e.message));
    void load();
    const t = setInterval(() => void load(), 30_000);
    return () => clearInterval(t);
  }, [deviceId]);
  return (
    <section class="health-history">
      <h3>Health history</h3>
      <ErrorLine error={error} />
      {reports === undefined ? <p class="muted">loading…</p> : reports.length === 0 ? <p class="muted">no health reports</p> : (
        <table class="list">
          <thead><tr><th>Received</th><th>Why</th><th>Battery</th><th>Storage used</th><th>Queued</th><th>GPS</th><th>Clock</th></tr></thead>
          <tbody>
            {reports.map((h) => {
              const s = summary(h);
              return (
                <tr key={h.msgId}>
                  <td>{dateTime(h.rx)} (<Age t={h.rx} />)</td>
                  <td>{h.trigger}{h.report.changed !== undefined ? `: ${h.report.changed.join(', ')}` : ''}</td>
                  <td>{battery(s)}</td>
                  <td>{s.storage !== undefined ? `${formatBytes(s.storage.used)} of ${formatBytes(s.storage.quota)}` : '?'}</td>
                  <td>{s.queued ?? '?'}</td>
                  <td>{s.gps ?? '?'}</td>
                  <td>{h.report.clockSynced ? 'synced' : 'NOT synced'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function DevicePage({ deviceId }: { deviceId: string }) {
  const { state } = useConsole();
  useTopics('devices', 'session');
  const faults = useFaults(deviceId);
  const d = state.devices.get(deviceId);
  if (d === undefined) return <p class="muted">No device {deviceId}.</p>;
  const s = summary(d.lastHealth);
  return (
    <div class="page device-page" data-device={deviceId}>
      <h2>{state.nameOf(deviceId)} <small>{deviceId}</small> <Status d={d} /></h2>
      <dl class="facts">
        <dt>Last seen</dt><dd><Age t={d.lastSeen} every={HEALTH_EVERY_MS} /></dd>
        <dt>Position</dt><dd>{d.lastPosition !== undefined ? <>{d.lastPosition.lat.toFixed(5)}, {d.lastPosition.lon.toFixed(5)}{d.lastPosition.accuracyM !== undefined ? ` ±${Math.round(d.lastPosition.accuracyM)} m` : ''} ({d.lastPosition.fixType}) <Age t={d.lastPosition.fixTime} every={60_000} /> · <a href={href('map', deviceId)}>map</a></> : 'none'}</dd>
        <dt>Battery</dt><dd>{battery(s)} <Age t={d.lastHealth?.rx} every={HEALTH_EVERY_MS} /></dd>
        <dt>Firmware</dt><dd>{d.agentVersion ?? '?'}</dd>
        <dt>Evidence key</dt><dd>{d.keyRegistered ? 'registered in the database' : 'not in the database (the ingest checks evidence with its key directory; a visit\'s page says which key it used)'}</dd>
        <dt>Faults (24 h)</dt><dd>{faults.length === 0 ? 'none' : (
          <ul>{faults.slice(0, 10).map((f) => <li key={f.msgId} class={f.severity}>{f.severity} {f.kind}: {f.message} <Age t={f.rx} /></li>)}</ul>
        )}</dd>
      </dl>
      <Commands deviceId={deviceId} />
      <HealthHistory deviceId={deviceId} />
      <p><a href={href('visits')}>visits</a></p>
    </div>
  );
}
