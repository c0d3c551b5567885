import { EventEmitter } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { PLATFORM_STATUS_TOPIC, PROTOCOL_VERSION, TOPIC_ROOT, inboundTopic, type DeviceStream } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import { join } from 'node:path';
import { openStore } from '../store/index.js';
import type { IngestStore } from '../store/types.js';
import { confirmationTopic, type Confirmation } from './confirmer.js';
import type { ConnectFailure } from './connect-failure.js';
import { Intake, type IntakeStats } from './intake.js';
import { MediaHandler } from './media-handler.js';
import { IntakeConnection } from './mqtt-intake.js';

export interface IngestOptions {
  brokerUrl: string;
  /** Evidence files, device keys and (by default) the SQLite store live here. */
  storeDir: string;
  /** The store to commit to (Ingest.open opens one from `db`, default SQLite at <storeDir>/platform.db). */
  store: IngestStore;
  logger: Logger;
  /** Shared-subscription group: several ingest workers split the load. */
  shareGroup?: string;
  /**
   * MQTT client id of the ingest's persistent session. Default: derived from
   * the store directory, so an ingest restarted on the same store resumes its
   * session. Each worker of a share group needs its own (without one, a worker
   * uses a random id and a clean session).
   */
  clientId?: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  protocolVersion?: 4 | 5;
  /** Receive evidence (media/chunk, media/part, media/manifest); default true. Keys: <storeDir>/keys/<deviceId>.pem. */
  media?: boolean;
  /** How often the evidence spool (<storeDir>/_incoming) is swept and settled; default 10 min. */
  spoolMaintainMs?: number;
}

export type IngestStats = IntakeStats;

export interface IngestEvents {
  // The body's shape depends on the stream (an alarm, a location, …): listeners name the type they expect.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  stored: [deviceId: string, stream: DeviceStream | 'media', msg: any];
  rejected: [topic: string, reason: string];
  presence: [deviceId: string, state: string, bootId: string];
  /** Connected to the broker and subscribed (again). */
  connect: [];
  /** Cannot work (credentials, certificate, ACL, or a store that keeps failing): the process should exit with this. */
  fatal: [Error];
}

/** What the ingest subscribes to: every device stream, never the cmd/ subtree it writes itself. */
const STREAM_FILTERS = ['status', 'health', 'event', 'location', 'location/batch', 'alarm', 'result'];
const MEDIA_FILTERS = ['media/chunk', 'media/part', 'media/manifest'];
/** A store that fails this long without one good commit is reported as fatal (the service manager restarts us). */
const STORE_FAILING_FATAL_MS = 10 * 60_000;

/**
 * The platform side's intake: one MQTT connection (IntakeConnection), whose
 * batches the Intake validates and commits to the store before anything is
 * acknowledged, and the end-to-end confirmations published back to each
 * device. A store that fails (database down, disk full, read-only) means no
 * acknowledgement at all: the broker keeps the messages and delivers them
 * again once a commit succeeds; the ingest says so loudly meanwhile.
 */
export class Ingest extends EventEmitter<IngestEvents> {
  readonly #o: IngestOptions;
  readonly store: IngestStore;
  readonly media: MediaHandler | undefined;
  readonly #intake: Intake;
  readonly #conn: IntakeConnection;
  readonly #bootId = randomBytes(9).toString('base64url');
  #seq = 0;
  #maintainTimer: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | undefined;
  #storeFailingSince: number | undefined;
  #storeWarnedAt = 0;

  constructor(o: IngestOptions) {
    super();
    this.#o = o;
    this.store = o.store;
    this.media = o.media === false ? undefined : new MediaHandler(o.storeDir, o.logger);
    this.#intake = new Intake({ store: o.store, media: this.media, logger: o.logger });
    this.#intake.on('stored', (...a) => this.emit('stored', ...a));
    this.#intake.on('rejected', (...a) => this.emit('rejected', ...a));
    this.#intake.on('presence', (...a) => this.emit('presence', ...a));
    this.#intake.on('confirm', (cs) => this.#publishConfirmations(cs));
    const protocolVersion = o.protocolVersion ?? 4;
    // Workers of a share group without their own ids cannot share one derived id (they would take the
    // session from each other): they keep random ids and clean sessions.
    const ephemeral = o.clientId === undefined && o.shareGroup !== undefined;
    const clientId = o.clientId ?? (ephemeral ? `nrec-ingest-${this.#bootId}` : `nrec-ingest-${createHash('sha256').update(resolve(o.storeDir)).digest('base64url').slice(0, 16)}`);
    const prefix = o.shareGroup ? `$share/${o.shareGroup}/` : '';
    const filters = [...STREAM_FILTERS, ...(this.media ? MEDIA_FILTERS : [])].map((s) => `${prefix}${TOPIC_ROOT}/v${PROTOCOL_VERSION}/+/${s}`);
    this.#conn = new IntakeConnection({
      url: o.brokerUrl, clientId, clean: ephemeral, protocolVersion, subscriptions: filters,
      username: o.username, password: o.password, ca: o.ca, cert: o.cert, key: o.key, logger: o.logger,
      // Presence: devices re-send what waits for a confirmation when they see "online" (docs/transport.md).
      will: { topic: PLATFORM_STATUS_TOPIC, payload: this.#presence('offline') },
      birth: () => ({ topic: PLATFORM_STATUS_TOPIC, payload: this.#presence('online') }),
      onBatch: (batch) => this.#onBatch(batch),
    });
    this.#conn.on('connect', ({ sessionPresent }) => {
      o.logger.info({ filters: filters.length, sessionPresent, clientId }, 'ingest connected and subscribed');
      this.emit('connect');
    });
    this.#conn.on('disconnect', (reason) => o.logger.warn({ reason }, 'ingest lost its broker connection; reconnecting'));
    this.#conn.on('fatal', (f: ConnectFailure) => this.emit('fatal', Object.assign(new Error(f.hint ? `${f.message}; ${f.hint}` : f.message), { kind: f.kind })));
  }

  /** Opens the store (`db`: a sqlite path or postgres:// URL; default <storeDir>/platform.db) and builds the ingest on it. */
  static async open(o: Omit<IngestOptions, 'store'> & { store?: IngestStore; db?: string }): Promise<Ingest> {
    const store = o.store ?? (await openStore(o.db ?? join(o.storeDir, 'platform.db'), { logger: o.logger }));
    return new Ingest({ ...o, store });
  }

  #presence(state: 'online' | 'offline'): Buffer {
    return Buffer.from(JSON.stringify({ v: 1, state, bootId: this.#bootId, ts: Date.now() }));
  }

  get stats(): IngestStats {
    return this.#intake.stats;
  }

  get connected(): boolean {
    return this.#conn.connected;
  }

  /**
   * Starts the connection (kept up by itself from then on). With `wait` (default), resolves once
   * connected and subscribed; an ingest started before its broker simply waits.
   */
  async start(opts: { wait?: boolean } = {}): Promise<void> {
    const connected = new Promise<void>((resolve, reject) => {
      const onFatal = (err: Error) => reject(err);
      this.once('fatal', onFatal);
      this.once('connect', () => {
        this.off('fatal', onFatal);
        resolve();
      });
    });
    this.#conn.start();
    if (this.media !== undefined) {
      // Spool upkeep (media-handler.ts): chunks a crashed worker (or this one, before a restart) left complete or claimed.
      this.#maintainTimer = setInterval(() => void this.#maintainMedia(), this.#o.spoolMaintainMs ?? 600_000);
      this.#maintainTimer.unref();
    }
    if (opts.wait === false) {
      connected.catch(() => undefined);
      return;
    }
    await connected;
    if (this.media !== undefined) await this.#maintainMedia();
  }

  async #onBatch(batch: Parameters<Intake['handleBatch']>[0]): Promise<void> {
    try {
      await this.#intake.handleBatch(batch);
    } catch (err) {
      const now = Date.now();
      this.#storeFailingSince ??= now;
      // Loud, but once a minute, not once per redelivery.
      if (now - this.#storeWarnedAt > 60_000) {
        this.#storeWarnedAt = now;
        this.#o.logger.error({ err: (err as Error).message, backend: this.store.backend, failingForS: Math.round((now - this.#storeFailingSince) / 1000) },
          'STORE FAILING: nothing is acknowledged; the broker keeps the messages and redelivers them once the store works again');
      }
      if (now - this.#storeFailingSince > STORE_FAILING_FATAL_MS) this.emit('fatal', new Error(`the ${this.store.backend} store has failed every commit for ${Math.round((now - this.#storeFailingSince) / 60_000)} min: ${(err as Error).message}`));
      throw err;
    }
    if (this.#storeFailingSince !== undefined) {
      this.#o.logger.warn({ backend: this.store.backend, failedForS: Math.round((Date.now() - this.#storeFailingSince) / 1000) }, 'store works again; redelivered messages are being stored');
      this.#storeFailingSince = undefined;
      this.#storeWarnedAt = 0;
    }
  }

  #publishConfirmations(cs: Confirmation[]): void {
    for (const c of cs) {
      const seq = this.#seq++;
      const msg = {
        v: 1, id: `${this.#bootId}-a-${seq}`, deviceId: c.deviceId, bootId: this.#bootId, seq, ts: Date.now(),
        ...(c.acked.length > 0 ? { acked: c.acked } : {}), ...(c.ranges.length > 0 ? { ranges: c.ranges } : {}), ...(c.rejected.length > 0 ? { rejected: c.rejected } : {}),
      };
      // Not awaited: a lost confirmation costs the device one re-send, which is stored once and confirmed again.
      this.#conn.publish(confirmationTopic(c), JSON.stringify(msg)).catch((err: Error) => this.#o.logger.debug({ err: err.message, deviceId: c.deviceId }, 'confirmation not delivered; the device will send again'));
    }
  }

  #maintainMedia(): Promise<void> {
    this.#maintaining ??= this.media!.maintain().then(
      async (outcomes) => {
        for (const r of outcomes) await this.#intake.mediaSettled(r.deviceId, r);
      },
      (err: Error) => this.#o.logger.error({ err: err.message }, 'ingest could not maintain the evidence spool'),
    ).finally(() => {
      this.#maintaining = undefined;
    });
    return this.#maintaining;
  }

  /** Sends a command to a device; resolves with the request id once the broker has it. */
  async sendCommand(deviceId: string, name: string, args: Record<string, unknown> = {}, ttlMs = 60_000, id?: string): Promise<string> {
    const seq = this.#seq++;
    const requestId = id ?? `${this.#bootId}-c-${seq}`;
    const now = Date.now();
    const msg = { v: 1, id: requestId, deviceId, bootId: this.#bootId, seq, ts: now, name, expiresAt: now + ttlMs, args };
    await this.#conn.publish(inboundTopic(deviceId, 'req'), JSON.stringify(msg));
    return requestId;
  }

  /** Publishes raw bytes on a topic (tests use it to send malformed commands). */
  async publishRaw(topic: string, payload: Buffer | string): Promise<void> {
    await this.#conn.publish(topic, payload);
  }

  /** Drops the broker connection (fault tests): whatever is not acknowledged is delivered again. */
  dropConnection(): void {
    this.#conn.drop('dropped on request');
  }

  async stop(): Promise<void> {
    clearInterval(this.#maintainTimer);
    await this.#maintaining;
    await this.#conn.stop();
    await this.store.close();
  }
}
