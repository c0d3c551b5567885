import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type ISubackPacket, type Packet } from 'mqtt-packet';
import { Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/logger.js';
import { connectFailure, type ConnectFailure } from './connect-failure.js';

/** One PUBLISH received from the broker. */
export interface InboundPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  dup: boolean;
  retain: boolean;
}

export interface IntakeConnectionOptions {
  url: string;
  clientId: string;
  /** false: a persistent session, so the broker queues for us while we are away. */
  clean: boolean;
  protocolVersion: 4 | 5;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Subscribed (QoS 1) on every connect: a broker that lost our session lost our subscriptions too. */
  subscriptions: string[];
  /** Last will (retained, QoS 1), and the birth published retained once subscribed, on every connect. */
  will?: { topic: string; payload: Buffer };
  birth?: () => { topic: string; payload: Buffer };
  keepaliveS?: number;
  /** MQTT 5: how long the broker keeps our session while we are away (default 7 days). */
  sessionExpiryS?: number;
  /** MQTT 5: the largest packet we accept; the broker does not send us larger ones (default 4 MiB). */
  maxPacketBytes?: number;
  /** Most publishes handed to one onBatch call (default 500). */
  maxBatch?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  logger: Logger;
  /**
   * Handles publishes received together. Their PUBACKs go out, in order, only
   * once it resolves: the broker keeps a message until we have stored it. When
   * it rejects, nothing of the batch is acknowledged and the connection is
   * dropped, so the broker delivers the batch again when we reconnect.
   */
  onBatch(batch: InboundPublish[]): Promise<void>;
}

export interface IntakeConnectionEvents {
  /** Connected and subscribed. */
  connect: [{ sessionPresent: boolean }];
  disconnect: [reason: string];
  /** The broker refused us for a reason retrying will not fix (credentials, certificate, ACL): the process should exit. */
  fatal: [ConnectFailure];
}

interface Outgoing {
  packet: IPublishPacket;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The ingest's MQTT connection, on mqtt-packet rather than mqtt.js: mqtt.js
 * hands incoming packets to the application one at a time, each waiting for
 * the previous one's PUBACK, so acknowledging only after a database commit
 * would cost one commit per message. Here every publish that arrived together
 * (up to the broker's in-flight window) is handed over as one batch, committed
 * once, and then acknowledged: group commit without acknowledging anything
 * that is not stored.
 *
 * Keeps itself connected (backoff with full jitter), subscribes on every
 * connect, re-sends its own unacknowledged publishes after a reconnect, and
 * speaks MQTT 3.1.1 and 5.
 */
export class IntakeConnection extends EventEmitter<IntakeConnectionEvents> {
  readonly #o: Required<Omit<IntakeConnectionOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'will' | 'birth'>> & IntakeConnectionOptions;
  readonly #backoff: Backoff;
  #socket: Socket | undefined;
  #connected = false;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #lastSent = 0;
  #lastReceived = 0;
  #connectedAt = 0;
  /** Received and not yet handed over. */
  #queue: Array<{ p: InboundPublish; messageId: number | undefined }> = [];
  #working = false;
  /** The batch being handled (stop waits for it). */
  #current: Promise<void> | undefined;
  readonly #outgoing = new Map<number, Outgoing>();
  #nextId = 1;
  #subscribed: ((p: ISubackPacket) => void) | undefined;
  #subId: number | undefined;
  #lastFailure: string | undefined;

  constructor(o: IntakeConnectionOptions) {
    super();
    this.#o = { keepaliveS: 30, sessionExpiryS: 7 * 24 * 3600, maxPacketBytes: 4 * 1024 * 1024, maxBatch: 500, backoffMinMs: 250, backoffMaxMs: 15_000, ...o };
    this.#backoff = new Backoff(this.#o.backoffMinMs, this.#o.backoffMaxMs);
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Starts connecting and returns at once; 'connect' follows each time a connection is up and subscribed. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#attempt();
  }

  /** Publishes at QoS 1; resolves on PUBACK (re-sent after a reconnect until then), rejects when the broker refuses it. */
  publish(topic: string, payload: Buffer | string, opts: { retain?: boolean } = {}): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('intake connection is stopped'));
    const messageId = this.#allocId();
    const packet: IPublishPacket = { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: 1, dup: false, retain: opts.retain === true, messageId };
    return new Promise((resolve, reject) => {
      this.#outgoing.set(messageId, { packet, resolve, reject });
      if (this.#connected) this.#write(packet);
    });
  }

  /** Drops the connection (for a fault test, or when the store failed): the broker redelivers what we did not acknowledge. */
  drop(reason: string): void {
    this.#socket?.destroy(new Error(reason));
  }

  /** Finishes the batch in hand (and its PUBACKs), then disconnects cleanly. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#queue = []; // not handed over: the broker delivers them again to whoever takes the session
    await this.#current;
    const s = this.#socket;
    if (s === undefined) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      if (this.#connected) this.#write({ cmd: 'disconnect' });
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    });
    for (const o of this.#outgoing.values()) o.reject(new Error('intake connection stopped'));
    this.#outgoing.clear();
  }

  #allocId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = (this.#nextId % 65535) + 1;
      if (!this.#outgoing.has(id) && id !== this.#subId) return id;
    }
    throw new Error('65535 publishes in flight');
  }

  #attempt(): void {
    if (this.#stopped) return;
    const o = this.#o;
    const url = new URL(o.url);
    const secure = url.protocol === 'mqtts:' || url.protocol === 'ssl:' || url.protocol === 'tls:';
    const port = Number(url.port || (secure ? 8883 : 1883));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket: Socket = secure
      ? tlsConnect({ host, port, ca: o.ca, cert: o.cert, key: o.key, servername: isIP(host) ? undefined : host })
      : netConnect({ host, port });
    this.#socket = socket;
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: o.protocolVersion });
    parser.on('packet', (p: Packet) => this.#onPacket(p));
    parser.on('error', (err: Error) => socket.destroy(new Error(`malformed packet from the broker: ${err.message}`)));
    let failure: ConnectFailure | undefined;
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      this.#write({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: o.protocolVersion, clientId: o.clientId, clean: o.clean,
        keepalive: o.keepaliveS, username: o.username, password: o.password === undefined ? undefined : Buffer.from(o.password),
        ...(o.will !== undefined ? { will: { topic: o.will.topic, payload: o.will.payload, qos: 1 as const, retain: true } } : {}),
        ...(o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: o.clean ? 0 : o.sessionExpiryS, maximumPacketSize: o.maxPacketBytes } } : {}),
      });
    });
    socket.on('data', (chunk: Buffer) => {
      this.#lastReceived = Date.now();
      parser.parse(chunk);
      this.#work();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      failure ??= connectFailure(err, o.url);
    });
    socket.on('close', () => this.#onClose(socket, failure));
    this.#onConnack = (p) => {
      if (p.returnCode === 0 || (o.protocolVersion === 5 && (p.reasonCode ?? 0) === 0)) {
        void this.#onConnected(p.sessionPresent);
        return;
      }
      failure = connectFailure({ connack: o.protocolVersion === 5 ? p.reasonCode ?? p.returnCode ?? 0x80 : p.returnCode ?? 0x80, protocolVersion: o.protocolVersion }, o.url);
      socket.destroy();
    };
  }

  #onConnack: (p: IConnackPacket) => void = () => undefined;

  async #onConnected(sessionPresent: boolean): Promise<void> {
    const o = this.#o;
    this.#connectedAt = Date.now();
    // Our own unacknowledged publishes go again (the broker may have them; a repeat is harmless: acks and commands are idempotent).
    for (const out of this.#outgoing.values()) this.#write({ ...out.packet, dup: true });
    this.#startKeepalive();
    const messageId = this.#allocId();
    this.#subId = messageId;
    const granted = await new Promise<ISubackPacket>((resolve) => {
      this.#subscribed = resolve;
      this.#write({ cmd: 'subscribe', messageId, subscriptions: o.subscriptions.map((topic) => ({ topic, qos: 1 })) });
    });
    const refused = (granted.granted as Array<number | { qos?: number }>).map((g, i) => ({ g: typeof g === "number" ? g : g.qos ?? 0, topic: o.subscriptions[i] })).filter((x) => x.g >= 0x80);
    if (refused.length > 0) {
      this.emit('fatal', { kind: 'not-authorized', fatal: true, message: `the broker refused the ingest's subscription to ${refused.map((r) => r.topic).join(', ')}`, hint: 'the broker ACL must let the platform user read nrec/v1/+/# (see scripts/mosquitto/)' });
      this.#socket?.destroy();
      return;
    }
    this.#connected = true;
    this.#lastFailure = undefined;
    if (o.birth !== undefined) {
      const b = o.birth();
      // Not awaited: its PUBACK comes on this connection like any other; re-sent after a reconnect until then.
      this.publish(b.topic, b.payload, { retain: true }).catch((err: Error) => o.logger.debug({ err: err.message }, 'platform birth not acknowledged'));
    }
    this.emit('connect', { sessionPresent });
  }

  #onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'connack':
        this.#onConnack(p);
        return;
      case 'suback':
        this.#subscribed?.(p);
        this.#subscribed = undefined;
        this.#subId = undefined;
        return;
      case 'publish': {
        const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
        this.#queue.push({ p: { topic: p.topic, payload, qos: p.qos, dup: p.dup, retain: p.retain }, messageId: p.messageId });
        return;
      }
      case 'puback': {
        const out = p.messageId === undefined ? undefined : this.#outgoing.get(p.messageId);
        if (out === undefined) return;
        this.#outgoing.delete(p.messageId!);
        const rc = p.reasonCode ?? 0;
        if (rc >= 0x80) out.reject(Object.assign(new Error(`broker refused publish to ${out.packet.topic}: reason code ${rc}`), { code: rc }));
        else out.resolve();
        return;
      }
      case 'pubrel':
        // QoS 2 is never subscribed to; complete the handshake anyway so a broker cannot stall on it.
        this.#write({ cmd: 'pubcomp', messageId: p.messageId });
        return;
      case 'disconnect':
        this.#socket?.destroy(new Error(`broker disconnected us (reason code ${p.reasonCode ?? 0})`));
        return;
      default:
        return; // pingresp: #lastReceived is enough
    }
  }

  /** Hands what has arrived to onBatch, one batch at a time; PUBACKs after it resolves. */
  #work(): void {
    if (this.#working || this.#queue.length === 0) return;
    const socket = this.#socket;
    const batch = this.#queue.splice(0, this.#o.maxBatch);
    this.#working = true;
    // Beyond a few batches waiting, stop reading: the broker's in-flight window then holds the rest.
    if (this.#queue.length > this.#o.maxBatch * 4) socket?.pause();
    this.#current = this.#o.onBatch(batch.map((b) => b.p)).then(
      () => {
        this.#working = false;
        if (this.#socket !== socket || socket === undefined || socket.destroyed) return; // redelivered after the reconnect
        // QoS 2 never arrives: the subscriptions are QoS 1, so the broker downgrades.
        for (const b of batch) if (b.p.qos === 1 && b.messageId !== undefined) this.#write({ cmd: 'puback', messageId: b.messageId });
        socket.resume();
        this.#work();
      },
      (err: Error) => {
        this.#working = false;
        this.#queue = [];
        // Nothing acknowledged: dropping the connection makes the broker deliver the batch again on reconnect.
        this.drop(`could not store a batch: ${err.message}`);
      },
    );
  }

  #write(p: Packet): void {
    const s = this.#socket;
    if (s === undefined || s.destroyed) return;
    this.#lastSent = Date.now();
    s.write(mqttPacket.generate(p, { protocolVersion: this.#o.protocolVersion }));
  }

  #startKeepalive(): void {
    clearInterval(this.#keepalive);
    const ms = this.#o.keepaliveS * 1000;
    this.#lastReceived = Date.now();
    this.#keepalive = setInterval(() => {
      const now = Date.now();
      if (now - this.#lastReceived > ms * 1.5) return this.drop(`no packet from the broker for ${Math.round((now - this.#lastReceived) / 1000)} s`);
      if (now - this.#lastSent >= ms / 2) this.#write({ cmd: 'pingreq' });
    }, Math.max(250, ms / 4));
    this.#keepalive.unref();
  }

  #onClose(socket: Socket, failure: ConnectFailure | undefined): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    clearInterval(this.#keepalive);
    this.#subscribed = undefined;
    this.#subId = undefined;
    this.#queue = [];
    const was = this.#connected;
    this.#connected = false;
    if (was) this.emit('disconnect', failure?.message ?? 'connection closed');
    if (this.#stopped) return;
    if (failure?.fatal) {
      this.emit('fatal', failure);
      return;
    }
    const why = failure?.message ?? (was ? 'connection closed' : 'connection closed before CONNACK');
    // Warn once per state change, not at every retry.
    if (why !== this.#lastFailure) {
      this.#o.logger.warn({ url: redact(this.#o.url), reason: why, ...(failure?.hint ? { hint: failure.hint } : {}) }, 'ingest not connected to the broker; retrying');
      this.#lastFailure = why;
    }
    if (was && Date.now() - this.#connectedAt > 30_000) this.#backoff.reset();
    this.#timer = setTimeout(() => this.#attempt(), this.#backoff.next());
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
