import * as L from 'leaflet';
import { useEffect, useRef, useState } from 'preact/hooks';
import { needsAcknowledgement } from '../../model/desk.js';
import type { ConsoleState } from '../../model/state.js';
import type { ApiDevice, TrackPoint } from '../../model/types.js';
import { href, useConsole, useTopics } from '../hooks.js';
import { Age, Badge } from './widgets.js';

/*
 * The live map (Leaflet): every device's last position with its accuracy
 * circle, name and state, the track of the last hour, and the geofences of
 * visits in progress. Vector layers only, on a plain background: tiles are
 * drawn under them when the configured tile server answers, and when it
 * does not the map says so and still shows everything. Updates from the
 * stream are applied in batches (100 devices at 1 Hz is 100 events a second).
 */

const FLUSH_MS = 200;

interface DeviceLayers {
  dot: L.CircleMarker;
  acc: L.Circle;
  track: L.Polyline;
}

/** Marker colours by state: an open alarm red, online blue, offline grey. */
function look(d: ApiDevice, alarming: boolean): { color: string; cls: string } {
  if (alarming) return { color: '#d0021b', cls: 'alarm' };
  if (d.status === 'online') return { color: '#1565c0', cls: 'online' };
  return { color: '#8a8a8a', cls: 'offline' };
}

const latlngs = (t: TrackPoint[] | undefined): L.LatLngExpression[] => (t ?? []).map((p) => [p.lat, p.lon]);

/** A Leaflet map in a div, kept in step with the console's state; `focus`: start centred on that device. */
export function LeafletMap({ focus, className, onMap }: { focus?: string; className?: string; onMap?: (map: L.Map) => void }) {
  const { state } = useConsole();
  const div = useRef<HTMLDivElement>(null);
  const [tiles, setTiles] = useState<TilesState>(state.settings?.tiles === undefined ? 'none' : 'loading');
  useEffect(() => {
    const map = L.map(div.current!, { zoomControl: true, attributionControl: true, worldCopyJump: true }).setView([20, 0], 2);
    addTiles(map, state, setTiles);
    const live = new LiveLayers(map, state, focus);
    onMap?.(map);
    return () => {
      live.stop();
      map.remove();
    };
  }, [state, focus]);
  return (
    <div class={`map-wrap ${className ?? ''}`}>
      <div ref={div} class="map plain" data-tiles={tiles} />
      <TilesNote tiles={tiles} />
    </div>
  );
}

export type TilesState = 'none' | 'loading' | 'ok' | 'unreachable';

/** The configured tile layer under the vectors; reports whether tiles arrive. */
export function addTiles(map: L.Map, state: ConsoleState, report: (s: TilesState) => void): void {
  const t = state.settings?.tiles;
  if (t === undefined) return;
  let loaded = 0;
  const layer = L.tileLayer(t.url, { attribution: t.attribution, maxZoom: t.maxZoom, subdomains: 'abc' });
  layer.on('tileerror', () => {
    if (loaded === 0) report('unreachable');
  });
  layer.on('tileload', () => {
    loaded++;
    report('ok');
  });
  layer.addTo(map);
}

export function TilesNote({ tiles }: { tiles: TilesState }) {
  const { state } = useConsole();
  if (tiles === 'unreachable') {
    let host = state.settings?.tiles?.url ?? '';
    try {
      host = new URL(host.replace(/\{s\}/g, 'a')).host;
    } catch {
      // the template as it is
    }
    return <p class="map-note" role="status" data-field="tiles-note">Map tiles are unreachable ({host}): positions, tracks and geofences are drawn on a plain background.</p>;
  }
  if (tiles === 'none') return <p class="map-note" role="status" data-field="tiles-note">No map tiles configured: a plain background.</p>;
  return null;
}

/** Vector layers for every device and geofence, updated from the state in batches. */
class LiveLayers {
  readonly #map: L.Map;
  readonly #state: ConsoleState;
  readonly #focus: string | undefined;
  readonly #devices = new Map<string, DeviceLayers>();
  readonly #fences = L.layerGroup();
  readonly #dirty = new Set<string>();
  #all = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fitted = false;
  readonly #off: () => void;

  constructor(map: L.Map, state: ConsoleState, focus: string | undefined) {
    this.#map = map;
    this.#state = state;
    this.#focus = focus;
    this.#fences.addTo(map);
    this.#off = state.subscribe((topic, deviceId) => {
      if (topic === 'geofences') this.#drawFences();
      if (topic !== 'devices' && topic !== 'tracks' && topic !== 'alarms') return;
      if (deviceId === undefined || topic === 'alarms') this.#all = true;
      else this.#dirty.add(deviceId);
      this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
    });
    this.#flush();
    this.#drawFences();
  }

  stop(): void {
    this.#off();
    clearTimeout(this.#timer);
  }

  #flush(): void {
    this.#timer = undefined;
    const alarming = new Set([...this.#state.alarms.values()].filter(needsAcknowledgement).map((a) => a.deviceId));
    const ids = this.#all ? [...this.#state.devices.keys()] : [...this.#dirty];
    this.#all = false;
    this.#dirty.clear();
    for (const id of ids) {
      const d = this.#state.devices.get(id);
      if (d !== undefined) this.#draw(d, alarming.has(id));
    }
    if (!this.#fitted) this.#fit();
  }

  #draw(d: ApiDevice, alarming: boolean): void {
    const p = d.lastPosition;
    if (p === undefined) return;
    const { color, cls } = look(d, alarming);
    let l = this.#devices.get(d.id);
    const at: L.LatLngExpression = [p.lat, p.lon];
    if (l === undefined) {
      const safe = d.id.replace(/[^A-Za-z0-9_-]/g, '');
      l = {
        track: L.polyline(latlngs(this.#state.tracks.get(d.id)), { color, weight: 2, opacity: 0.6, className: `nrec-track nrec-track-${safe}`, interactive: false }).addTo(this.#map),
        acc: L.circle(at, { radius: p.accuracyM ?? 0, color, weight: 1, fillOpacity: 0.12, className: `nrec-acc nrec-acc-${safe}`, interactive: false }).addTo(this.#map),
        dot: L.circleMarker(at, { radius: 7, color: '#fff', weight: 2, fillColor: color, fillOpacity: 1, className: `nrec-dev nrec-dev-${safe}` }).addTo(this.#map),
      };
      l.dot.bindTooltip(this.#state.nameOf(d.id), { permanent: true, direction: 'right', offset: [8, 0], className: 'nrec-label' });
      l.dot.on('click', () => {
        location.hash = href('devices', d.id);
      });
      this.#devices.set(d.id, l);
    } else {
      l.dot.setLatLng(at);
      l.acc.setLatLng(at);
      l.acc.setRadius(p.accuracyM ?? 0);
      l.track.setLatLngs(latlngs(this.#state.tracks.get(d.id)));
    }
    l.dot.setStyle({ fillColor: color });
    l.acc.setStyle({ color });
    l.track.setStyle({ color });
    const el = l.dot.getElement();
    if (el !== undefined) {
      el.classList.remove('alarm', 'online', 'offline');
      el.classList.add(cls);
      el.setAttribute('data-device', d.id);
    }
  }

  #drawFences(): void {
    this.#fences.clearLayers();
    for (const f of this.#state.geofences) {
      const safe = f.deviceId.replace(/[^A-Za-z0-9_-]/g, '');
      L.circle([f.lat, f.lon], { radius: f.radiusM, color: '#2e7d32', weight: 2, dashArray: f.status === 'ok' ? undefined : '6 4', fillOpacity: 0.08, className: `nrec-fence nrec-fence-${safe}` })
        .bindTooltip(`${this.#state.nameOf(f.deviceId)}: ${f.source === 'visit' ? `visit ${f.visitId}` : `geofence ${f.id}`}${f.status === 'ok' ? '' : ` (${f.status})`}`)
        .addTo(this.#fences);
    }
  }

  #fit(): void {
    const pts: L.LatLngExpression[] = [];
    for (const d of this.#state.devices.values()) {
      if (d.lastPosition === undefined) continue;
      if (this.#focus !== undefined && d.id !== this.#focus) continue;
      pts.push([d.lastPosition.lat, d.lastPosition.lon]);
    }
    if (pts.length === 0) return;
    this.#fitted = true;
    if (pts.length === 1) this.#map.setView(pts[0], 17);
    else this.#map.fitBounds(L.latLngBounds(pts), { padding: [40, 40], maxZoom: 17 });
  }
}

/** #/map (and #/map/DEVICE: centred on it): the map and every device beside it. */
export function MapPage({ route }: { route: string[] }) {
  const { state } = useConsole();
  useTopics('devices', 'alarms', 'session');
  const devices = [...state.devices.values()].sort((a, b) => state.nameOf(a.id).localeCompare(state.nameOf(b.id)));
  return (
    <div class="page map-page">
      <LeafletMap focus={route[1]} />
      <aside class="map-list">
        <h3>Devices ({devices.length})</h3>
        <ul>
          {devices.map((d) => (
            <li key={d.id} data-device={d.id}>
              <a href={href('map', d.id)}>{state.nameOf(d.id)}</a> <Badge tone={d.status === 'online' ? 'ok' : 'muted'}>{d.status}</Badge>
              <br />
              <small>position <Age t={d.lastPosition?.fixTime} every={60_000} />{d.lastPosition?.accuracyM !== undefined ? ` ±${Math.round(d.lastPosition.accuracyM)} m` : ''}</small>
            </li>
          ))}
        </ul>
        {route[1] !== undefined ? <a href={href('map')}>show all</a> : null}
      </aside>
    </div>
  );
}
