import { alarmKey } from './desk.js';
import type { ApiAlarm, ApiDevice, ApiGeofence, ApiHealth, ApiMe, ApiPosition, ApiSettings, StreamDeviceData, StreamHelloData, TrackPoint } from './types.js';

/*
 * The console's picture of the platform: devices, alarms, tracks and
 * geofences, from a snapshot of the API and then the live stream. A reload
 * (first load, a stream that could not resume, a `reset`) holds the stream's
 * events while the snapshot is fetched and applies them after it, so nothing
 * that happened meanwhile is lost or rolled back. Times are shown by the
 * server's clock (the offset is learnt from the answers' `now`). Pure: no DOM,
 * no network; the app feeds it.
 */

export type Topic = 'devices' | 'alarms' | 'tracks' | 'geofences' | 'stream' | 'session';

export type StreamState =
  | { state: 'connecting'; since: number }
  | { state: 'live'; since: number; resumed: boolean }
  | { state: 'down'; since: number; reason: string };

export interface Snapshot {
  now: number;
  devices: ApiDevice[];
  alarms: ApiAlarm[];
  tracks?: Array<{ deviceId: string; points: TrackPoint[] }>;
  geofences?: ApiGeofence[];
}

/** How much track the map keeps per device. */
export const TRACK_MS = 3_600_000;
const TRACK_MAX_POINTS = 5000;

type Held = { event: string; data: unknown };

export class ConsoleState {
  me: ApiMe | undefined;
  settings: ApiSettings | undefined;
  readonly devices = new Map<string, ApiDevice>();
  readonly alarms = new Map<string, ApiAlarm>();
  readonly tracks = new Map<string, TrackPoint[]>();
  geofences: ApiGeofence[] = [];
  stream: StreamState;
  /** When the last stream event arrived (local clock). */
  lastEventAt: number | undefined;
  /** Snapshots applied so far (the first load counts). */
  reloads = 0;
  /** The server's clock minus ours. */
  offsetMs = 0;
  readonly #listeners = new Set<(topic: Topic, deviceId?: string) => void>();
  #held: Held[] | undefined;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.stream = { state: 'connecting', since: now() };
  }

  /** Now by the server's clock. */
  serverNow(): number {
    return this.#now() + this.offsetMs;
  }

  /** Age of a server-clock time stamp, now. */
  age(t: number): number {
    return this.serverNow() - t;
  }

  subscribe(l: (topic: Topic, deviceId?: string) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  #emit(topic: Topic, deviceId?: string): void {
    for (const l of this.#listeners) l(topic, deviceId);
  }

  setSession(me: ApiMe | undefined, settings: ApiSettings | undefined): void {
    this.me = me;
    this.settings = settings;
    if (settings === undefined) {
      this.devices.clear();
      this.alarms.clear();
      this.tracks.clear();
      this.geofences = [];
    }
    this.#emit('session');
  }

  /** The wearer's name, else the device id. */
  nameOf(deviceId: string): string {
    return this.settings?.names[deviceId] ?? deviceId;
  }

  /** Learns the server's clock from an answer's `now` (taken when it arrived). */
  clock(serverNow: number): void {
    this.offsetMs = serverNow - this.#now();
  }

  streamState(s: StreamState): void {
    this.stream = s;
    this.#emit('stream');
  }

  /** From now on stream events are held until the snapshot is applied. */
  beginReload(): void {
    this.#held ??= [];
  }

  applySnapshot(s: Snapshot): void {
    this.clock(s.now);
    this.devices.clear();
    for (const d of s.devices) this.devices.set(d.id, d);
    // Alarms the snapshot does not list (closed long ago, beyond its range) are kept: they age off the desk by themselves.
    for (const a of s.alarms) this.alarms.set(alarmKey(a), a);
    if (s.tracks !== undefined) {
      this.tracks.clear();
      for (const t of s.tracks) this.tracks.set(t.deviceId, [...t.points]);
    }
    if (s.geofences !== undefined) this.geofences = s.geofences;
    this.reloads++;
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const h of held) this.#apply(h.event, h.data);
    this.#emit('devices');
    this.#emit('alarms');
    this.#emit('tracks');
    this.#emit('geofences');
  }

  /** A reload that failed: the held events are applied on what is there. */
  abandonReload(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const h of held) this.#apply(h.event, h.data);
  }

  setGeofences(g: ApiGeofence[]): void {
    this.geofences = g;
    this.#emit('geofences');
  }

  /** An alarm as an action on it answered (ack, resolve): newer than what the stream may still bring, never older. */
  putAlarm(a: ApiAlarm): void {
    const k = alarmKey(a);
    const known = this.alarms.get(k);
    if (known !== undefined && progress(known) > progress(a)) return;
    this.alarms.set(k, a);
    this.#emit('alarms');
  }

  /** Replaces the open alarms with a polled list (the bench's baseline: no alarms on the stream). */
  pollAlarms(open: ApiAlarm[]): void {
    const keys = new Set(open.map(alarmKey));
    for (const a of open) this.alarms.set(alarmKey(a), a);
    for (const [k, a] of this.alarms) if (!keys.has(k) && (a.state === 'raised' || a.state === 'notifying' || a.state === 'acknowledged')) this.alarms.delete(k);
    this.#emit('alarms');
  }

  /** One stream event (SSE event name and parsed data). */
  event(event: string, data: unknown): void {
    this.lastEventAt = this.#now();
    if (event === 'hello') {
      this.clock((data as StreamHelloData).now);
      return;
    }
    if (this.#held !== undefined) {
      this.#held.push({ event, data });
      return;
    }
    this.#apply(event, data);
  }

  #apply(event: string, data: unknown): void {
    switch (event) {
      case 'position': {
        const { deviceId, position } = data as { deviceId: string; position: ApiPosition };
        this.#position(deviceId, position);
        break;
      }
      case 'health': {
        const { deviceId, health } = data as { deviceId: string; health: ApiHealth };
        const d = this.#device(deviceId);
        if (d.lastHealth === undefined || d.lastHealth.rx <= health.rx) d.lastHealth = health;
        d.lastSeen = Math.max(d.lastSeen ?? 0, health.rx);
        this.#emit('devices', deviceId);
        break;
      }
      case 'device': {
        const s = data as StreamDeviceData;
        const d = this.#device(s.deviceId);
        d.status = s.status;
        if (s.offlineCause !== undefined) d.offlineCause = s.offlineCause;
        else delete d.offlineCause;
        if (s.lastSeen !== undefined) d.lastSeen = Math.max(d.lastSeen ?? 0, s.lastSeen);
        if (s.presence !== undefined) d.presence = s.presence;
        this.#emit('devices', s.deviceId);
        break;
      }
      case 'alarm': {
        const a = data as ApiAlarm;
        const known = this.alarms.get(alarmKey(a));
        // An action's answer (putAlarm) can overtake the stream: an older picture arriving after it is dropped.
        if (known !== undefined && progress(known) > progress(a)) break;
        this.alarms.set(alarmKey(a), a);
        this.#emit('alarms', a.deviceId);
        break;
      }
      default:
        break;
    }
  }

  #device(id: string): ApiDevice {
    let d = this.devices.get(id);
    if (d === undefined) {
      d = { id, status: 'online', keyRegistered: false };
      this.devices.set(id, d);
    }
    return d;
  }

  #position(deviceId: string, p: ApiPosition): void {
    const d = this.#device(deviceId);
    if (d.lastPosition === undefined || d.lastPosition.fixTime <= p.fixTime) d.lastPosition = { ...p, ageMs: 0 };
    d.lastSeen = Math.max(d.lastSeen ?? 0, p.rx);
    let t = this.tracks.get(deviceId);
    if (t === undefined) {
      t = [];
      this.tracks.set(deviceId, t);
    }
    const last = t.at(-1);
    if (last === undefined || last.t < p.fixTime) t.push(p.accuracyM !== undefined ? { t: p.fixTime, lat: p.lat, lon: p.lon, acc: p.accuracyM } : { t: p.fixTime, lat: p.lat, lon: p.lon });
    const cutoff = this.serverNow() - TRACK_MS;
    let drop = 0;
    while (drop < t.length - 1 && (t[drop].t < cutoff || t.length - drop > TRACK_MAX_POINTS)) drop++;
    if (drop > 0) t.splice(0, drop);
    this.#emit('tracks', deviceId);
  }
}

/** How far along its life an alarm is, to never replace a newer picture by an older one. */
function progress(a: ApiAlarm): number {
  const rank = { raised: 0, notifying: 1, acknowledged: 2, cancelled: 3, resolved: 3 }[a.state];
  return rank * 1e6 + a.history.length * 1e3 + a.attempts.length + (a.ackCommand?.answeredAt !== undefined ? 1 : 0);
}
