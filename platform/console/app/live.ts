import type { ConsoleState } from '../model/state.js';
import type { ApiAlarm, ApiDevice, ApiGeofence, ApiTracks } from '../model/types.js';
import { ApiFailure, withQuery, type Api } from './api.js';

/*
 * The live connection: the API's event stream into the console's state, and
 * the snapshots around it. EventSource reconnects by itself after a network
 * error and resumes with Last-Event-ID; when the server refused it (an HTTP
 * error closes it for good) a new one is opened with backoff. Whenever the
 * stream could not resume (first connect, server restart, `reset`) the
 * state is reloaded from the API. The state says at every moment whether the
 * stream is live, and since when it is not.
 *
 * `alarms: 'poll'` is the benchmark's baseline: the same page, alarms fetched
 * every second instead of streamed.
 */

const STREAM_EVENTS = ['position', 'alarm', 'device', 'health'] as const;
const GEOFENCE_REFRESH_MS = 30_000;
const SNAPSHOT_ALARMS_MS = 12 * 3_600_000;

export interface LiveOptions {
  alarms?: 'stream' | 'poll';
  /** The token stopped working (revoked, expired). */
  onUnauthorized(message: string): void;
}

export class LiveConnection {
  readonly #api: Api;
  readonly #state: ConsoleState;
  readonly #o: LiveOptions;
  #es: EventSource | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #backoffMs = 1000;
  #timers: Array<ReturnType<typeof setInterval>> = [];
  #closed = false;
  #reloading: Promise<void> | undefined;

  constructor(api: Api, state: ConsoleState, o: LiveOptions) {
    this.#api = api;
    this.#state = state;
    this.#o = o;
  }

  start(): void {
    this.#open();
    this.#timers.push(setInterval(() => void this.refreshGeofences(), GEOFENCE_REFRESH_MS));
    if (this.#o.alarms === 'poll') this.#timers.push(setInterval(() => void this.#poll(), 1000));
  }

  close(): void {
    this.#closed = true;
    this.#es?.close();
    clearTimeout(this.#retry);
    for (const t of this.#timers) clearInterval(t);
  }

  #open(): void {
    if (this.#closed) return;
    const types = this.#o.alarms === 'poll' ? 'position,device,health' : undefined;
    const es = new EventSource(withQuery('/api/stream', { types, access_token: this.#api.token }));
    this.#es = es;
    let first = true;
    es.addEventListener('hello', (e) => {
      const hello = JSON.parse((e as MessageEvent<string>).data) as { now: number; resumed: boolean };
      this.#backoffMs = 1000;
      this.#state.event('hello', hello);
      // A stream that resumed brings what was missed: live at once. Anything else: reload, and live once the snapshot is in.
      if (hello.resumed && !(first && this.#state.reloads === 0)) this.#state.streamState({ state: 'live', since: Date.now(), resumed: true });
      else {
        this.#state.streamState({ state: 'connecting', since: Date.now() });
        void this.reload();
      }
      first = false;
    });
    es.addEventListener('reset', () => {
      this.#state.streamState({ state: 'connecting', since: Date.now() });
      void this.reload();
    });
    for (const name of STREAM_EVENTS) {
      es.addEventListener(name, (e) => this.#state.event(name, JSON.parse((e as MessageEvent<string>).data)));
    }
    es.onerror = () => {
      if (this.#closed) return;
      const s = this.#state.stream;
      if (s.state !== 'down') this.#state.streamState({ state: 'down', since: Date.now(), reason: 'the live stream dropped' });
      if (es.readyState === EventSource.CLOSED) {
        // Refused outright (not a network error): find out why, then try again later with a new stream.
        void this.#api.get('/api/me').catch((err: unknown) => {
          if (err instanceof ApiFailure && err.status === 401) this.#o.onUnauthorized(err.message);
        });
        this.#retry = setTimeout(() => this.#open(), this.#backoffMs);
        this.#backoffMs = Math.min(15_000, this.#backoffMs * 2);
      }
    };
  }

  /** Reloads devices, alarms, tracks and geofences; the stream's events meanwhile are applied after. */
  reload(): Promise<void> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<void> {
    const s = this.#state;
    s.beginReload();
    try {
      const since = s.serverNow() - SNAPSHOT_ALARMS_MS;
      const [devices, open, recent, tracks, fences] = await Promise.all([
        this.#api.get<{ now: number; devices: ApiDevice[] }>('/api/devices'),
        this.#api.get<{ alarms: ApiAlarm[] }>('/api/alarms?open=true'),
        this.#api.get<{ alarms: ApiAlarm[] }>(withQuery('/api/alarms', { from: Math.round(since) })),
        this.#api.get<ApiTracks>('/api/tracks'),
        this.#api.get<{ geofences: ApiGeofence[] }>('/api/geofences'),
      ]);
      const byKey = new Map<string, ApiAlarm>();
      for (const a of [...recent.alarms, ...open.alarms]) byKey.set(`${a.deviceId}/${a.alarmId}`, a);
      s.applySnapshot({ now: devices.now, devices: devices.devices, alarms: [...byKey.values()], tracks: tracks.tracks, geofences: fences.geofences });
      if (this.#es?.readyState === EventSource.OPEN && s.stream.state !== 'live') s.streamState({ state: 'live', since: Date.now(), resumed: false });
    } catch (err) {
      s.abandonReload();
      if (err instanceof ApiFailure && err.status === 401) {
        this.#o.onUnauthorized(err.message);
        return;
      }
      if (!this.#closed) setTimeout(() => void this.reload(), 3000);
    }
  }

  async refreshGeofences(): Promise<void> {
    try {
      const g = await this.#api.get<{ geofences: ApiGeofence[] }>('/api/geofences');
      this.#state.setGeofences(g.geofences);
    } catch {
      // The next refresh tries again; the stream state says whether the platform is there.
    }
  }

  async #poll(): Promise<void> {
    try {
      const r = await this.#api.get<{ alarms: ApiAlarm[] }>('/api/alarms?open=true');
      this.#state.pollAlarms(r.alarms);
    } catch {
      // as above
    }
  }
}
