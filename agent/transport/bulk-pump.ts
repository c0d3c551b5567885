import { EventEmitter } from 'node:events';
import type { Logger } from '../../lib/logger.js';
import { PacedStream } from './bulk-pacer.js';
import { DelayRateController } from './bulk-rate.js';
import { MqttSession, type SessionOptions } from './mqtt-session.js';

/** One binary media part ready to go. */
export interface BulkPart {
  readonly key: string;
  readonly topic: string;
  readonly payload: Buffer;
}

/**
 * Where bulk parts come from (the media uploader). The pump pulls: it asks for
 * the next part only when the pacing window has room, so nothing piles up in
 * memory or in the socket. Emit 'ready' when parts become available.
 */
export interface BulkSource extends EventEmitter {
  /** The next part to send; `rateBps` is the current pacing rate (bytes/s), for sizing parts not yet cut. */
  next(rateBps: number): BulkPart | undefined;
  /** The broker acknowledged the part (PUBACK). */
  acked(part: BulkPart): void;
  /** The part was not acknowledged (connection lost): offer it again later. */
  requeue(part: BulkPart): void;
}

export interface BulkPumpOptions {
  session: Omit<SessionOptions, 'wrapStream' | 'logger'>;
  source: BulkSource;
  logger: Logger;
  minKbps: number;
  maxKbps: number;
  adaptive: boolean;
  targetDelayMs: number;
  maxInFlightBytes: number;
}

const SLICE = 4096;

/** Size on the wire of a QoS 1 PUBLISH (fixed header, topic, packet id, v5 empty properties). */
export function publishPacketBytes(topic: string, payloadBytes: number, version: 4 | 5): number {
  const remaining = 2 + Buffer.byteLength(topic) + 2 + (version === 5 ? 1 : 0) + payloadBytes;
  const lenBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lenBytes + remaining;
}

interface InFlight {
  part: BulkPart;
  endOffset: number;
  lastByteAt: number | undefined;
  epoch: number;
}

/**
 * Media parts on their own MQTT connection, paced below the link's capacity.
 *
 * Why a separate connection rather than small writes on the control one: an
 * MQTT PUBLISH is indivisible on its connection, so on a shared connection an
 * alarm waits for the whole part in progress; on its own connection the
 * alarm's bytes enter the modem's FIFO as soon as they are written. That alone
 * is not enough (the FIFO is shared), so the bulk connection is paced by
 * DelayRateController to keep the FIFO nearly empty, and at most
 * `maxInFlightBytes` are unacknowledged. Result: an alarm waits behind at
 * most ~targetDelayMs of bulk bytes.
 */
export class BulkPump extends EventEmitter {
  readonly #o: BulkPumpOptions;
  readonly session: MqttSession;
  readonly rate: DelayRateController;
  #paced: PacedStream | undefined;
  readonly #inFlight = new Set<InFlight>();
  #inFlightBytes = 0;
  #epoch = 0;
  #scheduled = false;
  /** Bytes handed to mqtt.js on the current connection's stream, by our own count (mqtt.js may write asynchronously). */
  #submitted = 0;
  bytesAcked = 0;

  constructor(o: BulkPumpOptions) {
    super();
    this.#o = o;
    const min = (o.minKbps * 1000) / 8;
    const max = (o.maxKbps * 1000) / 8;
    this.rate = new DelayRateController({ minBps: min, maxBps: o.adaptive ? max : min, initialBps: min, targetMs: o.targetDelayMs });
    this.session = new MqttSession({
      ...o.session,
      logger: o.logger,
      wrapStream: (socket) => {
        const paced = new PacedStream(socket, this.rate.rate);
        this.#submitted = 0;
        paced.onFlushed = (offset, at) => this.#onFlushed(paced, offset, at);
        this.#paced = paced;
        return paced;
      },
    });
    this.session.on('connect', () => this.kick());
    this.session.on('disconnect', () => this.#onDisconnect());
    o.source.on('ready', () => this.kick());
  }

  start(): void {
    this.session.start();
  }

  /** Unacknowledged bulk bytes. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  kick(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #onDisconnect(): void {
    this.#epoch++;
    const lost = [...this.#inFlight];
    this.#inFlight.clear();
    this.#inFlightBytes = 0;
    if (lost.length > 0) this.rate.onLoss();
    for (const f of lost) this.#o.source.requeue(f.part);
  }

  #onFlushed(paced: PacedStream, offset: number, at: number): void {
    if (paced !== this.#paced) return;
    for (const f of this.#inFlight) if (f.lastByteAt === undefined && f.endOffset <= offset) f.lastByteAt = at;
    if (this.#submitted - offset < SLICE) this.kick();
  }

  #pump(): void {
    const paced = this.#paced;
    if (!this.session.connected || paced === undefined) return;
    // Hand over a part only when the pacer has (almost) nothing left to send: the
    // write then goes straight into the pacer, so its end offset is exact, and
    // nothing waits in memory ahead of the pacing.
    while (this.#submitted - paced.flushed < SLICE && this.#inFlightBytes < this.#o.maxInFlightBytes) {
      const part = this.#o.source.next(this.rate.rate);
      if (part === undefined) return;
      const f: InFlight = { part, endOffset: 0, lastByteAt: undefined, epoch: this.#epoch };
      this.#inFlight.add(f);
      this.#inFlightBytes += part.payload.length;
      const sentAt = Date.now();
      this.#submitted = Math.max(this.#submitted, paced.accepted) + publishPacketBytes(part.topic, part.payload.length, this.session.protocolVersion);
      f.endOffset = this.#submitted;
      this.session.publish(part.topic, part.payload, { qos: 1 }).then(
        () => this.#onAck(f, sentAt),
        () => {
          if (f.epoch === this.#epoch && this.#inFlight.delete(f)) {
            this.#inFlightBytes -= part.payload.length;
            this.#o.source.requeue(part);
          }
        },
      );
    }
  }

  #onAck(f: InFlight, sentAt: number): void {
    if (!this.#inFlight.delete(f)) {
      // Acknowledged after we gave up on it (reconnect): still delivered.
      this.#o.source.acked(f.part);
      return;
    }
    this.#inFlightBytes -= f.part.payload.length;
    this.bytesAcked += f.part.payload.length;
    const now = Date.now();
    if (this.#o.adaptive) {
      this.rate.onAck(now, now - (f.lastByteAt ?? sentAt), f.part.payload.length);
      if (process.env.NREC_BULK_DEBUG) process.stderr.write(`ack delay=${now - (f.lastByteAt ?? sentAt)} hadLast=${f.lastByteAt !== undefined} q=${this.rate.queueDelayMs} rate=${Math.round(this.rate.rate * 8 / 1000)}kbps inflight=${this.#inFlightBytes}\n`);
      this.#paced?.setRate(this.rate.rate);
    }
    this.#o.source.acked(f.part);
    this.kick();
  }

  async stop(): Promise<void> {
    await this.session.stop(true);
  }
}
