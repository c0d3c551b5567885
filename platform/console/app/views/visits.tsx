import * as L from 'leaflet';
import { useEffect, useRef, useState } from 'preact/hooks';
import { clockTime, dateTime, formatBytes, formatDuration } from '../../model/age.js';
import type { ApiPosition, ApiVisit, ApiVisitCheck } from '../../model/types.js';
import { withQuery } from '../api.js';
import { href, useConsole, useTopics } from '../hooks.js';
import { addTiles, TilesNote, type TilesState } from './map.js';
import { Player } from './player.js';
import { Age, Badge, ErrorLine, useAction } from './widgets.js';

/*
 * Visits: the list by day and nurse, and a visit's page: its route, its
 * manifest (chunks, gaps, alarms), each chunk's verification as the files
 * are now, playback of the verified chunks, and the evidence bundle.
 */

/** Today's date in the browser's time zone (the day picker's days are local days). */
const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

export function VisitsPage() {
  const { api, state } = useConsole();
  useTopics('devices', 'session');
  const [day, setDay] = useState(today);
  const [device, setDevice] = useState('');
  const [visits, setVisits] = useState<ApiVisit[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    setVisits(undefined);
    const from = new Date(`${day}T00:00:00`);
    const to = new Date(from.getTime() + 86_400_000);
    api.get<{ visits: ApiVisit[] }>(withQuery('/api/visits', { from: from.getTime(), to: to.getTime(), deviceId: device === '' ? undefined : device }))
      .then((r) => {
        setVisits(r.visits);
        setError(undefined);
      }, (e: Error) => setError(e.message));
  }, [day, device]);
  const devices = [...state.devices.keys()].sort((a, b) => state.nameOf(a).localeCompare(state.nameOf(b)));
  return (
    <div class="page">
      <h2>Visits</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Day <input type="date" value={day} onInput={(e) => setDay((e.target as HTMLInputElement).value || today())} /></label>
        <label>Nurse <select value={device} onInput={(e) => setDevice((e.target as HTMLSelectElement).value)}>
          <option value="">everyone</option>
          {devices.map((d) => <option key={d} value={d}>{state.nameOf(d)}</option>)}
        </select></label>
      </form>
      <ErrorLine error={error} />
      {visits === undefined ? <p class="muted">loading…</p> : visits.length === 0 ? <p class="muted">No visits on {day}.</p> : (
        <table class="list visits">
          <thead><tr><th>Start</th><th>Nurse</th><th>Visit</th><th>Duration</th><th>Chunks</th><th>State</th><th>Verified at intake</th></tr></thead>
          <tbody>
            {visits.map((v) => (
              <tr key={`${v.deviceId}/${v.sessionId}`} data-session={v.sessionId}>
                <td><a href={href('visits', v.deviceId, v.sessionId)}>{v.startedAt !== undefined ? clockTime(v.startedAt) : '?'}</a></td>
                <td>{state.nameOf(v.deviceId)}</td>
                <td>{v.visitId ?? v.sessionId}{v.trigger === 'sos' ? <Badge tone="bad">SOS</Badge> : null}</td>
                <td>{v.startedAt !== undefined && v.endedAt !== undefined ? formatDuration(v.endedAt - v.startedAt) : v.state}</td>
                <td>{v.chunks.length}</td>
                <td>{v.state}</td>
                <td><Badge tone={v.verification === 'verified' ? 'ok' : v.verification === 'failed' ? 'bad' : 'info'}>{v.verification}</Badge></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function RouteMap({ points }: { points: ApiPosition[] }) {
  const { state } = useConsole();
  const div = useRef<HTMLDivElement>(null);
  const [tiles, setTiles] = useState<TilesState>(state.settings?.tiles === undefined ? 'none' : 'loading');
  useEffect(() => {
    const map = L.map(div.current!, { zoomControl: true });
    addTiles(map, state, setTiles);
    const ll = points.map((p): L.LatLngExpression => [p.lat, p.lon]);
    if (ll.length > 0) {
      L.polyline(ll, { color: '#6a1b9a', weight: 3, className: 'nrec-route' }).addTo(map);
      L.circleMarker(ll[0], { radius: 5, color: '#2e7d32', className: 'nrec-route-start' }).bindTooltip('start').addTo(map);
      L.circleMarker(ll[ll.length - 1], { radius: 5, color: '#c62828', className: 'nrec-route-end' }).bindTooltip('end').addTo(map);
      map.fitBounds(L.latLngBounds(ll), { padding: [20, 20], maxZoom: 18 });
    } else map.setView([20, 0], 2);
    return () => map.remove();
  }, [points]);
  return <div class="map-wrap small"><div ref={div} class="map plain" data-tiles={tiles} /><TilesNote tiles={tiles} />{points.length === 0 ? <p class="map-note">No positions stored during this visit.</p> : null}</div>;
}

const CHUNK_TONE = { verified: 'ok', missing: 'warn', rejected: 'bad' } as const;

export function VisitPage({ deviceId, sessionId }: { deviceId: string; sessionId: string }) {
  const { api, state } = useConsole();
  const [visit, setVisit] = useState<ApiVisit | undefined>(undefined);
  const [check, setCheck] = useState<ApiVisitCheck | undefined>(undefined);
  const [route, setRoute] = useState<ApiPosition[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const download = useAction();
  const base = `/api/devices/${encodeURIComponent(deviceId)}/visits/${encodeURIComponent(sessionId)}`;
  const load = async () => {
    try {
      const [v, c] = await Promise.all([api.get<ApiVisit>(base), api.get<ApiVisitCheck>(`${base}/verification`)]);
      setVisit(v);
      setCheck(c);
      setError(undefined);
      if (v.startedAt !== undefined) {
        const r = await api.get<{ positions: ApiPosition[] }>(withQuery(`/api/devices/${encodeURIComponent(deviceId)}/positions`, { from: v.startedAt, to: (v.endedAt ?? state.serverNow()) + 1, limit: 10_000 }));
        setRoute(r.positions);
      }
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, [deviceId, sessionId]);
  const canPlay = state.me !== undefined && state.me.role !== 'viewer';
  const m = visit?.manifest;
  return (
    <div class="page visit-page" data-session={sessionId}>
      <h2>Visit {visit?.visitId ?? sessionId} <small>{state.nameOf(deviceId)}</small></h2>
      <ErrorLine error={error} />
      {visit === undefined || check === undefined ? <p class="muted">loading…</p> : (
        <>
          <dl class="facts">
            <dt>Recorded</dt><dd>{visit.startedAt !== undefined ? dateTime(visit.startedAt) : '?'} – {visit.endedAt !== undefined ? clockTime(visit.endedAt) : 'still recording'} ({visit.trigger ?? '?'})</dd>
            <dt>Evidence now</dt><dd><Badge tone={check.state === 'verified' ? 'ok' : check.state === 'failed' ? 'bad' : 'info'}><span data-field="visit-state">{check.state}</span></Badge> checked <Age t={check.checkedAt} /> against {check.keySource ?? 'no key'} <button type="button" onClick={() => void load()}>check again</button></dd>
            {check.problems.length > 0 ? <><dt>Problems</dt><dd><ul>{check.problems.map((p, i) => <li key={i}>{p}</li>)}</ul></dd></> : null}
            <dt>Manifest</dt><dd>{m === undefined ? 'none yet (the session is not closed)' : `${m.chunks.length} chunks, ${m.gaps.length} gap${m.gaps.length === 1 ? '' : 's'}, ${m.alarms.length} alarm${m.alarms.length === 1 ? '' : 's'}${m.alarms.length > 0 ? ` (${m.alarms.join(', ')})` : ''}`}</dd>
            {check.gaps.length > 0 ? <><dt>Gaps</dt><dd><ul>{check.gaps.map((g, i) => <li key={i}>{clockTime(g.from)}–{clockTime(g.to)}: {g.reason}</li>)}</ul></dd></> : null}
          </dl>
          {canPlay ? <Player check={check} /> : <p class="muted">viewer token: playback and downloads need an operator.</p>}
          {canPlay ? (
            <p>
              <button type="button" data-action="download" disabled={download.busy} onClick={() => void download.run(async () => {
                const blob = await api.blob(`${base}/bundle`);
                const url = URL.createObjectURL(blob);
                const a = document.createElement('a');
                a.href = url;
                a.download = `${deviceId}-${sessionId}.tar.gz`;
                document.body.append(a);
                a.click();
                a.remove();
                setTimeout(() => URL.revokeObjectURL(url), 60_000);
              })}>Download evidence bundle</button> <small class="muted">chunks, chain, manifest and the device's public key: <code>tar xzf {deviceId}-{sessionId}.tar.gz && nrec verify {deviceId}-{sessionId}</code></small>
              <ErrorLine error={download.error} />
            </p>
          ) : null}
          <table class="list chunks">
            <thead><tr><th>Chunk</th><th>Start</th><th>Length</th><th>Size</th><th>Verification</th></tr></thead>
            <tbody>
              {check.chunks.map((c) => (
                <tr key={c.index} data-chunk={c.index} data-state={c.state}>
                  <td>{c.index}</td>
                  <td>{c.startTime !== undefined ? clockTime(c.startTime) : '?'}</td>
                  <td>{c.durationS !== undefined ? formatDuration(c.durationS * 1000) : '?'}</td>
                  <td>{c.bytes !== undefined ? formatBytes(c.bytes) : '?'}</td>
                  <td><Badge tone={CHUNK_TONE[c.state]}>{c.state}</Badge>{c.reason !== undefined ? <span class="reason"> {c.reason}</span> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Route during the visit</h3>
          <RouteMap points={route} />
        </>
      )}
    </div>
  );
}
