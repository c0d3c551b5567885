import { EventEmitter } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  PROTOCOL_VERSION,
  TOPIC_ROOT,
  deviceTopic,
  inboundTopic,
  parseTopic,
  validatorForStream,
  validatorForSub,
  type DeviceStream,
  type LocationBatch,
} from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import { MediaHandler, type MediaOutcome } from './media-handler.js';
import { NdjsonStore } from './ndjson-store.js';

export interface IngestOptions {
  brokerUrl: string;
  storeDir: string;
  logger: Logger;
  /** MQTT 5 shared-subscription group: several ingest workers split the load. */
  shareGroup?: string;
  /**
   * MQTT client id of the ingest's persistent session. Default: derived from
   * the store directory, so an ingest restarted on the same store resumes its
   * session. Give each worker of a share group its own (without one, a worker
   * uses a random id and a clean session, and may miss messages across a broker restart).
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

export interface IngestStats {
  devices: number;
  accepted: Record<string, number>;
  duplicates: number;
  rejected: number;
  rejectReasons: Record<string, number>;
}

/** What the ingest subscribes to: every device stream, never the cmd/ subtree it writes itself. */
const STREAM_FILTERS = ['status', 'health', 'event', 'location', 'location/batch', 'alarm', 'result'];
const MEDIA_FILTERS = ['media/chunk', 'media/part', 'media/manifest'];

/**
 * The platform side: subscribes to all devices, validates every message,
 * stores accepted ones durably per device (NdjsonStore), deduplicates by
 * message id, counts rejects with their reasons and never stops on bad input.
 * Emits 'stored' (deviceId, stream, message) and 'rejected' (topic, reason).
 */
export class Ingest extends EventEmitter {
  readonly #o: IngestOptions;
  readonly store: NdjsonStore;
  readonly media: MediaHandler | undefined;
  #client: MqttClient | undefined;
  readonly #bootId = randomBytes(9).toString('base64url');
  #seq = 0;
  readonly #stats: IngestStats = { devices: 0, accepted: {}, duplicates: 0, rejected: 0, rejectReasons: {} };
  readonly #devices = new Set<string>();
  /** Latest birth bootId per device: a will from another boot is stale. */
  readonly #births = new Map<string, string>();
  #maintainTimer: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | undefined;

  constructor(o: IngestOptions) {
    super();
    this.#o = o;
    this.store = new NdjsonStore(o.storeDir);
    this.media = o.media === false ? undefined : new MediaHandler(o.storeDir, o.logger);
  }

  /** Connects and subscribes; resolves once subscriptions are granted. */
  async start(): Promise<void> {
    const o = this.#o;
    const protocolVersion = o.protocolVersion ?? 4;
    // A persistent session (clean=false, a stable client id): while the ingest is
    // away or still reconnecting after a broker restart, the broker queues what
    // devices publish for it. With a clean session and a random id, whatever a
    // device published before the ingest's resubscription was silently lost
    // (test/transport-broker-outage.test.ts proves it no longer is).
    // Workers of a share group without their own ids cannot share one derived id (they
    // would take the session from each other): they keep random ids and clean sessions.
    const ephemeral = o.clientId === undefined && o.shareGroup !== undefined;
    const client = mqtt.connect(o.brokerUrl, {
      clientId: o.clientId ?? (ephemeral ? `nrec-ingest-${this.#bootId}` : `nrec-ingest-${createHash('sha256').update(resolve(o.storeDir)).digest('base64url').slice(0, 16)}`),
      protocolVersion,
      clean: ephemeral,
      ...(protocolVersion === 5 && !ephemeral ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      // Resubscription is ours (below): mqtt.js skips it on 3.1.1 with clean=false even when the broker lost the session.
      resubscribe: false,
      reconnectPeriod: 1000,
      username: o.username,
      password: o.password,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
    });
    this.#client = client;
    // Installed before the connection completes: a persistent session may deliver at once.
    // handleMessage runs for every PUBLISH before its PUBACK goes out (MQTT 3.1.1
    // and 5 alike), so a message is acknowledged to the broker only once stored.
    client.handleMessage = (packet, callback) => {
      if (packet.cmd !== 'publish') return callback();
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const t = parseTopic(packet.topic);
      if (t.ok && t.direction === 'device' && t.stream === 'media' && this.media !== undefined) {
        // Evidence is spooled (and a chunk it completes stored with fsync) before the PUBACK, and acknowledged to the device once verified and stored.
        this.#handleMedia(packet.topic, t.deviceId, t.sub, payload).then(() => callback(), (err: Error) => {
          o.logger.error({ err: err.message, topic: packet.topic }, 'ingest could not store evidence');
          callback(err);
        });
        return;
      }
      try {
        this.#handle(packet.topic, payload);
      } catch (err) {
        // Storage failure (disk full, EIO): no PUBACK, the broker keeps the message for redelivery.
        o.logger.error({ err: (err as Error).message, topic: packet.topic }, 'ingest could not store message');
        return callback(err as Error);
      }
      callback();
    };
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const prefix = o.shareGroup && client.options.protocolVersion === 5 ? `$share/${o.shareGroup}/` : '';
    const filters = [...STREAM_FILTERS, ...(this.media ? MEDIA_FILTERS : [])].map((s) => `${prefix}${TOPIC_ROOT}/v${PROTOCOL_VERSION}/+/${s}`);
    await client.subscribeAsync(filters, { qos: 1 });
    // A broker that lost our session (no persistence, expiry) has lost the subscriptions too.
    client.on('connect', (connack) => {
      if (connack.sessionPresent) return;
      client.subscribeAsync(filters, { qos: 1 }).then(
        () => o.logger.info({ filters: filters.length }, 'ingest resubscribed: the broker had no session for it'),
        (err: Error) => o.logger.error({ err: err.message }, 'ingest could not resubscribe'),
      );
    });
    o.logger.info({ store: o.storeDir, filters: filters.length }, 'ingest subscribed');
    if (this.media !== undefined) {
      // Spool upkeep (media-handler.ts): chunks a crashed worker (or this one, before a restart) left complete or claimed are stored and acknowledged now.
      await this.#maintainMedia();
      this.#maintainTimer = setInterval(() => void this.#maintainMedia(), o.spoolMaintainMs ?? 600_000);
      this.#maintainTimer.unref();
    }
  }

  #maintainMedia(): Promise<void> {
    this.#maintaining ??= this.media!.maintain().then(
      (outcomes) => {
        for (const r of outcomes) this.#mediaOutcome(deviceTopic(r.deviceId, 'media', 'chunk'), r.deviceId, 'chunk', r, Buffer.alloc(0));
      },
      (err: Error) => this.#o.logger.error({ err: err.message }, 'ingest could not maintain the evidence spool'),
    ).finally(() => {
      this.#maintaining = undefined;
    });
    return this.#maintaining;
  }

  get stats(): IngestStats {
    return { ...this.#stats, devices: this.#devices.size, accepted: { ...this.#stats.accepted }, rejectReasons: { ...this.#stats.rejectReasons } };
  }

  #reject(topic: string, category: string, detail: string, payload: Buffer): void {
    this.#stats.rejected++;
    this.#stats.rejectReasons[category] = (this.#stats.rejectReasons[category] ?? 0) + 1;
    this.store.reject(topic, `${category}: ${detail}`, payload);
    this.#o.logger.warn({ topic, reason: category, detail }, 'rejected message');
    this.emit('rejected', topic, `${category}: ${detail}`);
  }

  #handle(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (!t.ok) return this.#reject(topic, 'bad-topic', t.reason, payload);
    if (t.direction !== 'device') return;
    if (t.stream === 'location' && t.sub === 'batch') return this.#handleBatch(topic, t.deviceId, payload);
    const validator = t.sub === undefined ? validatorForStream(t.stream) : validatorForSub(t.stream, t.sub);
    if (validator === undefined) return this.#reject(topic, 'unknown-channel', `no schema for ${t.stream}${t.sub ? `/${t.sub}` : ''}`, payload);
    const r = validator.parse(payload);
    if (!r.ok) return this.#reject(topic, r.errors[0].includes('not JSON') ? 'not-json' : 'schema', r.errors.join('; '), payload);
    const msg = r.value as { id: string; deviceId: string; bootId: string; state?: string };
    if (msg.deviceId !== t.deviceId) {
      return this.#reject(topic, 'device-mismatch', `payload deviceId "${msg.deviceId}" differs from topic device "${t.deviceId}"`, payload);
    }
    this.#accept(topic, t.deviceId, t.stream, msg, t.stream === 'alarm');
  }

  async #handleMedia(topic: string, deviceId: string, sub: string | undefined, payload: Buffer): Promise<void> {
    this.#mediaOutcome(topic, deviceId, sub, await this.media!.handle(deviceId, sub, payload), payload);
  }

  #mediaOutcome(topic: string, deviceId: string, sub: string | undefined, r: MediaOutcome, payload: Buffer): void {
    this.#devices.add(deviceId);
    for (const reason of r.rejected) this.#reject(topic, 'evidence', reason, sub === 'part' ? Buffer.alloc(0) : payload);
    if (r.stored > 0) {
      this.#stats.accepted.media = (this.#stats.accepted.media ?? 0) + r.stored;
      this.emit('stored', deviceId, 'media', { sub, acks: r.acks });
    }
    // Not awaited: its PUBACK arrives on this connection, whose packets wait until this one is handled.
    if (r.acks.length > 0) void this.ack(deviceId, r.acks).catch((err: Error) => this.#o.logger.warn({ err: err.message, deviceId }, 'ack not sent; the device will resend'));
  }

  #handleBatch(topic: string, deviceId: string, payload: Buffer): void {
    const r = validatorForSub('location', 'batch')!.parse(payload);
    if (!r.ok) return this.#reject(topic, r.errors[0].includes('not JSON') ? 'not-json' : 'schema', r.errors.join('; '), payload);
    const batch = r.value as LocationBatch;
    const wrong = batch.items.find((i) => i.deviceId !== deviceId);
    if (batch.deviceId !== deviceId || wrong !== undefined) {
      return this.#reject(topic, 'device-mismatch', `batch for "${batch.deviceId}" / item "${wrong?.deviceId ?? ''}" differs from topic device "${deviceId}"`, payload);
    }
    for (const item of batch.items) {
      const stored = { ...item, backfill: true } as { id: string; bootId: string; backfill: boolean };
      this.#accept(topic, deviceId, 'location', stored, false);
    }
  }

  #accept(topic: string, deviceId: string, stream: DeviceStream, msg: { id: string; bootId: string; state?: string }, sync: boolean): void {
    this.#devices.add(deviceId);
    if (!this.store.append(deviceId, stream, topic, msg, { sync })) {
      this.#stats.duplicates++;
      return;
    }
    this.#stats.accepted[stream] = (this.#stats.accepted[stream] ?? 0) + 1;
    if (stream === 'status') this.#presence(deviceId, msg);
    this.emit('stored', deviceId, stream, msg);
  }

  #presence(deviceId: string, msg: { bootId: string; state?: string }): void {
    if (msg.state === 'online') this.#births.set(deviceId, msg.bootId);
    else if (msg.state === 'offline' && this.#births.has(deviceId) && this.#births.get(deviceId) !== msg.bootId) {
      this.#o.logger.info({ deviceId, willBootId: msg.bootId, currentBootId: this.#births.get(deviceId) }, 'stale last will ignored: device is online with a newer boot');
      return;
    }
    this.emit('presence', deviceId, msg.state, msg.bootId);
  }

  /** Sends a command to a device; resolves with the request id once the broker has it. */
  async sendCommand(deviceId: string, name: string, args: Record<string, unknown> = {}, ttlMs = 60_000, id?: string): Promise<string> {
    const client = this.#client;
    if (client === undefined) throw new Error('ingest not started');
    const seq = this.#seq++;
    const requestId = id ?? `${this.#bootId}-c-${seq}`;
    const now = Date.now();
    const msg = { v: 1, id: requestId, deviceId, bootId: this.#bootId, seq, ts: now, name, expiresAt: now + ttlMs, args };
    await client.publishAsync(inboundTopic(deviceId, 'req'), JSON.stringify(msg), { qos: 1 });
    return requestId;
  }

  /** Publishes raw bytes on a topic (tests use it to send malformed commands). */
  async publishRaw(topic: string, payload: Buffer | string): Promise<void> {
    await this.#client?.publishAsync(topic, payload, { qos: 1 });
  }

  /** Acknowledges durably stored message ids to a device (media, whose delivery PUBACK cannot prove). */
  async ack(deviceId: string, ids: string[]): Promise<void> {
    const client = this.#client;
    if (client === undefined || ids.length === 0) return;
    const seq = this.#seq++;
    const msg = { v: 1, id: `${this.#bootId}-a-${seq}`, deviceId, bootId: this.#bootId, seq, ts: Date.now(), acked: ids };
    await client.publishAsync(inboundTopic(deviceId, 'ack'), JSON.stringify(msg), { qos: 1 });
  }

  async stop(): Promise<void> {
    clearInterval(this.#maintainTimer);
    await this.#maintaining;
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync();
    this.store.close();
  }
}
