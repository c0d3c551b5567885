import { EventEmitter } from 'node:events';
import { ackedIds, deviceTopic, inboundFilter, IngestAck, parseTopic, PLATFORM_STATUS_TOPIC, PlatformStatus, Validator, type DeviceStream } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import { ControlPump, type ControlPumpOptions } from './control-pump.js';
import type { Envelope } from './envelope.js';
import type { ControlLane } from './lanes.js';
import { MqttSession, type SessionOptions } from './mqtt-session.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { Refusal } from './refusal.js';

const COMMA = Buffer.from(',');
const BATCH_END = Buffer.from(']}');

export interface TransportOptions {
  session: Omit<SessionOptions, 'will' | 'onConnect' | 'clientId' | 'logger'>;
  envelope: Envelope;
  outbox: Outbox;
  logger: Logger;
  agentVersion: string;
  backfillBatch: number;
  /** Confirmation timeouts and refusal retries (defaults in ControlPump). */
  pump?: ControlPumpOptions;
}

export interface SendOptions {
  sub?: string;
  retain?: boolean;
}

export interface TransportEvents {
  /** A command request arrived (raw payload; the command registry validates it). */
  command: [payload: Buffer];
  /** The platform confirmed it has stored these message ids (outbox rows are gone; media headers are the uploader's). */
  confirmed: [ids: string[]];
  connect: [];
  disconnect: [];
  /** The broker refuses publishes to a topic (reported once per change), or accepts them again. */
  refused: [Refusal];
  accepted: [{ topic: string }];
  /** The platform (an ingest worker) announced itself anew: what waits for its confirmation was just sent again. */
  platformOnline: [];
}

const ackValidator = new Validator(IngestAck);
const platformValidator = new Validator(PlatformStatus);

/**
 * The only module that knows MQTT. Others hand it protocol bodies and a lane;
 * it stamps the envelope, makes the message durable, and the pump delivers it.
 * A message is forgotten only when the platform confirms it (cmd/ack), never
 * on the broker's PUBACK alone (see ControlPump).
 */
export class Transport extends EventEmitter<TransportEvents> {
  readonly #o: TransportOptions;
  readonly session: MqttSession;
  readonly #pump: ControlPump;
  readonly #deviceId: string;
  #platformSeen: string | undefined;
  #platformRefused = false;

  constructor(o: TransportOptions) {
    super();
    this.#o = o;
    this.#deviceId = o.envelope.deviceId;
    const statusTopic = deviceTopic(this.#deviceId, 'status');
    this.session = new MqttSession({
      ...o.session,
      clientId: this.#deviceId,
      logger: o.logger,
      // The will and the birth carry the same bootId: a will from an older boot that
      // arrives after a newer birth is recognisably stale.
      will: () => ({ topic: statusTopic, payload: this.#status('offline', 'connection lost'), retain: true, qos: 1 }),
      onConnect: async (s) => {
        await s.subscribe(inboundFilter(this.#deviceId));
        // Optional: a broker whose ACL predates it only costs the quick re-send after a platform restart.
        await s.subscribe(PLATFORM_STATUS_TOPIC).catch((err: Error) => {
          if (!this.#platformRefused) o.logger.warn({ err: err.message, topic: PLATFORM_STATUS_TOPIC }, 'cannot follow the platform presence (broker ACL); unconfirmed messages are re-sent on their timeout only');
          this.#platformRefused = true;
        });
        await s.publish(statusTopic, this.#status('online'), { qos: 1, retain: true });
      },
    });
    this.session.on('connect', () => this.emit('connect'));
    this.session.on('disconnect', () => this.emit('disconnect'));
    this.session.on('message', (topic: string, payload: Buffer) => {
      if (topic === PLATFORM_STATUS_TOPIC) return this.#onPlatform(payload);
      const t = parseTopic(topic);
      if (!t.ok || t.direction !== 'inbound' || t.deviceId !== this.#deviceId) return o.logger.warn({ topic }, 'ignored message on unexpected topic');
      if (t.kind === 'req') this.emit('command', payload);
      else this.#onAck(payload);
    });
    this.#pump = new ControlPump(o.outbox, this.session, o.logger, (entries) => this.#batch(entries), o.backfillBatch, o.pump);
    this.#pump.on('refused', (r) => this.emit('refused', r));
    this.#pump.on('accepted', (a) => this.emit('accepted', a));
  }

  /**
   * The platform's retained presence. A new "online" (another ingest boot, or an ingest that
   * reconnected to a broker that may have lost what it held) means: send again now whatever waits for
   * a confirmation. The same retained message seen again after our own reconnect changes nothing.
   */
  #onPlatform(payload: Buffer): void {
    const r = platformValidator.parse(payload);
    if (!r.ok) return this.#o.logger.warn({ errors: r.errors }, 'malformed platform status ignored');
    if (r.value.state !== 'online') return;
    const key = `${r.value.bootId}@${r.value.ts}`;
    if (key === this.#platformSeen) return;
    const first = this.#platformSeen === undefined;
    this.#platformSeen = key;
    const n = this.#pump.resendNow();
    if (!first || n > 0) this.#o.logger.info({ resent: n, platformBootId: r.value.bootId }, 'platform online: unconfirmed messages sent again');
    this.emit('platformOnline');
  }

  /** The ingest's end-to-end confirmation: what it stored, and what it refused (recorded there as rejected). */
  #onAck(payload: Buffer): void {
    const r = ackValidator.parse(payload);
    if (!r.ok) return this.#o.logger.warn({ errors: r.errors }, 'malformed platform acknowledgement ignored');
    const ids = ackedIds(r.value);
    for (const x of r.value.rejected ?? []) {
      // The platform keeps it in its rejected record: sending it again would be refused again.
      this.#o.logger.warn({ msgId: x.id, reason: x.reason }, 'the platform rejected a message; it is recorded there, not sent again');
      ids.push(x.id);
    }
    this.#pump.confirm(ids);
    this.emit('confirmed', ids);
  }

  /** Topics the broker refuses now (health reports them). */
  refusals(): Refusal[] {
    return this.#pump.refusals();
  }

  #status(state: 'online' | 'offline' | 'shutdown', reason?: string): Buffer {
    const msg = this.#o.envelope.make('status', { state, agentVersion: this.#o.agentVersion, ...(reason ? { reason } : {}) });
    return Buffer.from(JSON.stringify(msg));
  }

  /** Locations queued while offline go out as one batch marked as backfill. */
  #batch(entries: OutboxEntry[]): { topic: string; payload: Buffer } | undefined {
    // The stored payloads are already JSON: joined as bytes, not decoded and encoded again.
    const parts: Buffer[] = [Buffer.from(`{"v":1,"deviceId":${JSON.stringify(this.#deviceId)},"backfill":true,"items":[`)];
    entries.forEach((e, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(e.payload);
    });
    parts.push(BATCH_END);
    return { topic: deviceTopic(this.#deviceId, 'location', 'batch'), payload: Buffer.concat(parts) };
  }

  start(): void {
    this.session.start();
  }

  /** Stamps, stores durably, and schedules a message; resolves once it is durable (not delivered). */
  async send<B extends object>(lane: ControlLane, stream: DeviceStream, body: B, opts: SendOptions = {}) {
    const msg = this.#o.envelope.make(stream, body);
    await this.#o.outbox.put({
      lane,
      topic: deviceTopic(this.#deviceId, stream, opts.sub),
      payload: Buffer.from(JSON.stringify(msg)),
      msgId: msg.id,
      retain: opts.retain ?? false,
    });
    this.#pump.kick();
    return msg;
  }

  /** Publishes a device event (status lane unless given); never rejects: a failure to store it is logged. */
  event(body: { kind: string; severity: 'info' | 'warning' | 'critical'; message: string; data?: Record<string, unknown> }, lane: ControlLane = 'status'): void {
    this.send(lane, 'event', body).catch((err: Error) => this.#o.logger.error({ err: err.message, kind: body.kind }, 'event not stored'));
  }

  /** Tells the pump there is work (after an ingest ack freed room, say). */
  kick(): void {
    this.#pump.kick();
  }

  /** Publishes the shutdown status and disconnects cleanly (no will). */
  async stop(): Promise<void> {
    if (this.session.connected) {
      try {
        await this.session.publish(deviceTopic(this.#deviceId, 'status'), this.#status('shutdown', 'agent stopped'), { qos: 1, retain: true });
      } catch {
        // Best effort: the broker's will covers us if this does not get through.
      }
    }
    await this.session.stop(true);
    this.#pump.dispose();
  }
}
