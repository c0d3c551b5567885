import { EventEmitter } from 'node:events';
import { deviceTopic, inboundFilter, parseTopic, type DeviceStream } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import { ControlPump } from './control-pump.js';
import type { Envelope } from './envelope.js';
import type { ControlLane } from './lanes.js';
import { MqttSession, type SessionOptions } from './mqtt-session.js';
import type { Outbox, OutboxEntry } from './outbox.js';

const COMMA = Buffer.from(',');
const BATCH_END = Buffer.from(']}');

export interface TransportOptions {
  session: Omit<SessionOptions, 'will' | 'onConnect' | 'clientId' | 'logger'>;
  envelope: Envelope;
  outbox: Outbox;
  logger: Logger;
  agentVersion: string;
  backfillBatch: number;
}

export interface SendOptions {
  sub?: string;
  retain?: boolean;
  ackBy?: 'puback' | 'ingest';
}

/**
 * The only module that knows MQTT. Others hand it protocol bodies and a lane;
 * it stamps the envelope, makes the message durable, and the pump delivers it.
 * Events: 'command' (topic kind, payload Buffer), 'connect', 'disconnect'.
 */
export class Transport extends EventEmitter {
  readonly #o: TransportOptions;
  readonly session: MqttSession;
  readonly #pump: ControlPump;
  readonly #deviceId: string;

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
        await s.publish(statusTopic, this.#status('online'), { qos: 1, retain: true });
      },
    });
    this.session.on('connect', () => this.emit('connect'));
    this.session.on('disconnect', () => this.emit('disconnect'));
    this.session.on('message', (topic: string, payload: Buffer) => {
      const t = parseTopic(topic);
      if (t.ok && t.direction === 'inbound' && t.deviceId === this.#deviceId) this.emit(t.kind === 'req' ? 'command' : 'ack', payload);
      else o.logger.warn({ topic }, 'ignored message on unexpected topic');
    });
    this.#pump = new ControlPump(o.outbox, this.session, o.logger, (entries) => this.#batch(entries), o.backfillBatch);
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
      ackBy: opts.ackBy ?? 'puback',
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
  }
}
