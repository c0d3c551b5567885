import type { Static } from '@sinclair/typebox';
import type { StreamDevice } from '../../protocol/api.js';
import { deviceTopic, type DeviceStream } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import type { AlarmDeskApi, DeskAlarm } from '../desk/types.js';
import { liveViews, type PlatformStore, type PresenceView, type StoredEnvelope } from '../store/index.js';
import { apiPosition, connectionState, healthSummary, type ConnectionState } from './device-state.js';
import type { StreamHub } from './stream-hub.js';

/*
 * What the live stream carries, from where it happens: positions and health
 * reports as the ingest stores them, alarm changes as the alarm desk reports
 * them, and each device's online state as its presence and silence change
 * (a sweep notices a device that went quiet: no will comes for a dead link
 * the broker has not noticed yet). Only what this process's ingest stored:
 * with several ingest workers each stream shows its own worker's share.
 */

/** The part of the Ingest the feed listens to. */
export interface IngestEventSource {
  on(event: 'stored', listener: (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => void): unknown;
  on(event: 'presence', listener: (deviceId: string, state: string, bootId: string) => void): unknown;
  off(event: 'stored', listener: (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => void): unknown;
  off(event: 'presence', listener: (deviceId: string, state: string, bootId: string) => void): unknown;
}

export interface LiveFeedOptions {
  hub: StreamHub;
  ingest: IngestEventSource;
  desk: AlarmDeskApi;
  store: PlatformStore;
  logger: Logger;
  silenceMs: number;
  /** How often silence is checked (default 5 s). */
  sweepMs?: number;
  now?: () => number;
}

interface Known {
  presence?: PresenceView;
  lastSeen?: number;
  state: ConnectionState;
}

export class LiveFeed {
  readonly #o: LiveFeedOptions;
  readonly #now: () => number;
  readonly #devices = new Map<string, Known>();
  #timer: NodeJS.Timeout | undefined;

  readonly #onStored = (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => {
    const now = this.#now();
    const k = this.#known(deviceId);
    k.lastSeen = now;
    if (stream === 'location' || stream === 'health') {
      const views = liveViews({ deviceId, stream, topic: deviceTopic(deviceId, stream), rx: now, msg });
      if (views.position !== undefined) this.#o.hub.publish('position', { deviceId, position: apiPosition(views.position) });
      if (views.health !== undefined) this.#o.hub.publish('health', { deviceId, health: healthSummary(views.health, now) });
    }
    // A status changes presence (the 'presence' event follows); anything else may end a silence.
    if (stream !== 'status') this.#update(deviceId, k);
  };

  readonly #onPresence = (deviceId: string, state: string, bootId: string) => {
    if (state !== 'online' && state !== 'offline' && state !== 'shutdown') return;
    const k = this.#known(deviceId);
    k.presence = { state, bootId, at: this.#now() };
    this.#update(deviceId, k);
  };

  readonly #onAlarm = (alarm: DeskAlarm) => {
    this.#o.hub.publish('alarm', alarm);
  };

  constructor(o: LiveFeedOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** Learns each device's state from the store, then follows the ingest and the desk. */
  async start(): Promise<void> {
    const now = this.#now();
    for (const d of await this.#o.store.devices()) {
      const k: Known = { presence: d.presence, lastSeen: d.lastSeen, state: { status: 'online' } };
      k.state = connectionState(k, now, this.#o.silenceMs);
      if (!this.#devices.has(d.id)) this.#devices.set(d.id, k);
    }
    this.#o.ingest.on('stored', this.#onStored);
    this.#o.ingest.on('presence', this.#onPresence);
    this.#o.desk.on('change', this.#onAlarm);
    this.#timer = setInterval(() => this.sweep(), this.#o.sweepMs ?? 5000);
    this.#timer.unref();
  }

  /** Publishes a device event for every device whose silence has outlasted the limit since the last sweep. */
  sweep(): void {
    for (const [id, k] of this.#devices) this.#update(id, k);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#o.ingest.off('stored', this.#onStored);
    this.#o.ingest.off('presence', this.#onPresence);
    this.#o.desk.off('change', this.#onAlarm);
  }

  #known(deviceId: string): Known {
    let k = this.#devices.get(deviceId);
    if (k === undefined) {
      k = { state: { status: 'offline', offlineCause: 'never-seen' } };
      this.#devices.set(deviceId, k);
    }
    return k;
  }

  #update(deviceId: string, k: Known): void {
    const next = connectionState(k, this.#now(), this.#o.silenceMs);
    const same = next.status === k.state.status && (next.status === 'online' || (k.state.status === 'offline' && next.offlineCause === k.state.offlineCause));
    k.state = next;
    if (same) return;
    const data: Static<typeof StreamDevice> = { deviceId, ...next };
    if (k.lastSeen !== undefined) data.lastSeen = k.lastSeen;
    if (k.presence !== undefined) data.presence = { ...k.presence };
    this.#o.hub.publish('device', data);
    if (next.status === 'offline') this.#o.logger.info({ deviceId, cause: next.offlineCause }, 'device offline');
  }
}
