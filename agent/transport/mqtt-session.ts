import { EventEmitter } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { MqttClient, type IClientOptions, type IClientPublishOptions } from 'mqtt';
import { streamBuilder as wsStreamBuilder } from 'mqtt/lib/connect/ws';
import type { Logger } from '../../lib/logger.js';
import { Backoff } from '../../lib/backoff.js';
import { ackProblem, connackProblem, noAnswerProblem, socketProblem, type ConnectionProblem, type ProblemContext } from './connection-problem.js';

export interface SessionOptions {
  url: string;
  clientId: string;
  protocolVersion: 4 | 5 | 'auto';
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  keepaliveS: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Last will for this connection attempt (built fresh, so it carries the current bootId). */
  will?: () => { topic: string; payload: Buffer; retain: boolean; qos: 0 | 1 };
  /** Called once connected, before 'connect' is emitted: publish the birth, subscribe. */
  onConnect?: (session: MqttSession) => Promise<void>;
  /** Wraps the raw socket (the bulk connection paces its writes this way). */
  wrapStream?: (socket: Duplex) => Duplex;
  /**
   * Runs for every incoming PUBLISH before its PUBACK is sent (mqtt.js `handleMessage`; 'message'
   * has been emitted just before): record what must survive a crash here. A failure is logged and
   * the PUBACK goes out anyway, so the broker does not redeliver for ever what cannot be recorded.
   */
  beforeAck?: (topic: string, payload: Buffer) => void | Promise<void>;
  logger: Logger;
}

/**
 * One MQTT connection that keeps itself up: reconnects with exponential
 * backoff and full jitter, negotiates MQTT 5 and falls back to 3.1.1, and
 * uses a persistent session (clean=false) so commands queued by the broker
 * while the device was away are delivered. Each attempt gets a fresh client:
 * nothing is replayed from mqtt.js's memory store, because the durable
 * outbox is the one place that decides what is (re)sent.
 *
 * A failure to connect is logged at warn once per state change, with its cause
 * and what to check (connection-problem.ts), and emitted as 'problem'; repeats
 * of the same failure on later attempts go to debug. Events: 'connect',
 * 'disconnect', 'message' (topic, payload, packet), 'problem' (ConnectionProblem).
 */
export class MqttSession extends EventEmitter {
  readonly #o: SessionOptions;
  readonly #backoff: Backoff;
  #client: MqttClient | undefined;
  #version: 4 | 5;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #connected = false;
  #connectedAt = 0;
  /** The failure last reported at warn; cleared once connected, so the next failure is a change. */
  #problemKey: string | undefined;

  constructor(options: SessionOptions) {
    super();
    this.#o = options;
    this.#backoff = new Backoff(options.backoffMinMs, options.backoffMaxMs);
    this.#version = options.protocolVersion === 4 ? 4 : 5;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The protocol version in use (5 = MQTT 5, 4 = 3.1.1). */
  get protocolVersion(): 4 | 5 {
    return this.#version;
  }

  /** Starts connecting; returns at once. */
  start(): void {
    this.#stopped = false;
    this.#attempt();
  }

  #attempt(): void {
    if (this.#stopped) return;
    const o = this.#o;
    const url = new URL(o.url);
    const scheme = url.protocol.slice(0, -1);
    const ws = scheme === 'ws' || scheme === 'wss';
    const secure = scheme === 'mqtts' || scheme === 'ssl' || scheme === 'tls' || scheme === 'wss';
    const port = Number(url.port || (ws ? (secure ? 443 : 80) : secure ? 8883 : 1883));
    const host = url.hostname;
    const ctx: ProblemContext = { host, port, clientId: o.clientId, tls: secure, clientCert: o.cert !== undefined };
    const will = o.will?.();
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: this.#version,
      clean: false,
      keepalive: o.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      resubscribe: false,
      queueQoSZero: false,
      username: o.username,
      password: o.password,
      ...(this.#version === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      ...(will ? { will: { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain } } : {}),
    };
    // What this attempt ran into first (or its session set-up, once connected); the close that follows reports it.
    let failure: ConnectionProblem | undefined;
    let setupFailed: ConnectionProblem | undefined;
    let socketUp = false;
    const build = (c: MqttClient): Duplex => {
      let socket: Duplex;
      if (ws) {
        socket = wsStreamBuilder(c, {
          protocol: scheme as 'ws' | 'wss', hostname: host, port, path: url.pathname || '/', protocolId: 'MQTT', protocolVersion: this.#version,
          wsOptions: secure ? { ca: o.ca, cert: o.cert, key: o.key } : {},
        }) as unknown as Duplex;
      } else {
        socket = secure
          ? tlsConnect({ host, port, ca: o.ca, cert: o.cert, key: o.key, servername: net_isIP(host) ? undefined : host })
          : netConnect({ host, port });
        socket.once(secure ? 'secureConnect' : 'connect', () => { socketUp = true; });
      }
      socket.on('error', (err: Error & { code?: string }) => { failure ??= socketProblem(err.code, ctx); });
      if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
      return o.wrapStream ? o.wrapStream(socket) : socket;
    };
    const client = new MqttClient((c) => build(c as MqttClient) as never, options);
    this.#client = client;
    let gotConnack = false;
    client.on('connect', () => {
      gotConnack = true;
      void this.#onConnected(client, ctx, (p) => { setupFailed = p; });
    });
    client.on('message', (topic, payload, packet) => this.emit('message', topic, payload, packet));
    const beforeAck = o.beforeAck;
    if (beforeAck !== undefined) {
      client.handleMessage = (packet, callback) => {
        if (packet.cmd !== 'publish') return callback();
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        Promise.resolve()
          .then(() => beforeAck(packet.topic, payload))
          .catch((err: Error) => o.logger.error({ err: err.message, topic: packet.topic }, 'incoming message not recorded before its acknowledgement'))
          .finally(() => callback());
      };
    }
    client.on('error', (err: Error & { code?: number | string }) => {
      // MQTT 5 refused by a 3.1.1-only broker (aedes): CONNACK code 1 (or a 5.0 protocol-version refusal), or a close before CONNACK.
      if (!gotConnack && this.#o.protocolVersion === 'auto' && this.#version === 5 && (err.code === 1 || err.code === 0x82 || err.code === 0x84)) {
        this.#version = 4;
      }
      if (!gotConnack) failure ??= typeof err.code === 'number' ? connackProblem(err.code, ctx) : socketProblem(err.code, ctx);
      o.logger.debug({ err: err.message, code: err.code, clientId: o.clientId }, 'mqtt error');
    });
    client.on('close', () => {
      if (this.#client !== client) return;
      if (!gotConnack && this.#o.protocolVersion === 'auto' && this.#version === 5 && this.#backoff.attempt === 0) {
        // Some 3.1.1-only brokers just close on a v5 CONNECT; try 3.1.1 once before backing off.
        this.#version = 4;
      }
      const problem = this.#connected ? undefined : setupFailed ?? failure ?? (socketUp || ws ? noAnswerProblem(ctx) : socketProblem(undefined, ctx));
      this.#onClosed(client, problem);
    });
  }

  async #onConnected(client: MqttClient, ctx: ProblemContext, setupFailed: (p: ConnectionProblem) => void): Promise<void> {
    if (this.#client !== client) return;
    this.#connectedAt = Date.now();
    try {
      await this.#o.onConnect?.(this);
    } catch (err) {
      const e = err as Error & { code?: number | string; topic?: string };
      // A refused birth or subscription is an ACL that does not match this device: the same on every attempt.
      setupFailed(typeof e.code === 'number' ? ackProblem(e.code, e.topic ?? 'the session set-up', ctx) : socketProblem(e.code, ctx));
      this.#o.logger.debug({ err: e.message, code: e.code }, 'post-connect setup failed; reconnecting');
      client.end(true);
      return;
    }
    if (this.#client !== client || !client.connected) return;
    this.#connected = true;
    this.#problemKey = undefined;
    this.#o.logger.info({ url: redactUrl(this.#o.url), clientId: this.#o.clientId, mqtt: this.#version === 5 ? '5.0' : '3.1.1' }, 'connected');
    this.emit('connect');
  }

  #onClosed(client: MqttClient, problem: ConnectionProblem | undefined): void {
    client.removeAllListeners('connect');
    client.end(true);
    const was = this.#connected;
    this.#connected = false;
    if (was) {
      this.emit('disconnect');
      this.#o.logger.warn({ clientId: this.#o.clientId }, 'disconnected');
    }
    if (this.#stopped) return;
    // A connection that lasted a while resets the backoff; a flapping one keeps growing it.
    if (was && Date.now() - this.#connectedAt > 30_000) this.#backoff.reset();
    const delay = this.#backoff.next();
    if (problem !== undefined) this.#report(problem, delay);
    this.#timer = setTimeout(() => this.#attempt(), delay);
    this.#timer.unref?.();
  }

  /** Warn on a new failure (with cause and what to check), debug on a repeat of the one already reported. */
  #report(problem: ConnectionProblem, retryInMs: number): void {
    const key = `${problem.kind}|${problem.cause}`;
    const fields = { url: redactUrl(this.#o.url), clientId: this.#o.clientId, cause: problem.cause, check: problem.check, retryInMs };
    if (key === this.#problemKey) {
      this.#o.logger.debug({ ...fields, attempt: this.#backoff.attempt }, 'still cannot connect to the broker');
      return;
    }
    this.#problemKey = key;
    this.#o.logger.warn(fields, `cannot connect to the broker: ${problem.cause}; ${problem.check}`);
    this.emit('problem', problem);
  }

  /**
   * Publishes and resolves on PUBACK (QoS 1) or once written (QoS 0); rejects if the connection is
   * lost first, or with `err.code` = the MQTT 5 reason code when the broker refuses it.
   */
  publish(topic: string, payload: Buffer | string, opts: IClientPublishOptions = { qos: 1 }): Promise<void> {
    const client = this.#client;
    if (client === undefined || !client.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, opts, (err, packet) => {
        if (err) return reject(Object.assign(err, { topic }));
        const rc = (packet as { reasonCode?: number } | undefined)?.reasonCode;
        if (rc !== undefined && rc >= 0x80) return reject(Object.assign(new Error(`broker refused publish to ${topic}: reason code ${rc}`), { code: rc, topic }));
        resolve();
      });
    });
  }

  /** Subscribes at QoS 1; resolves when granted. */
  subscribe(filter: string): Promise<void> {
    const client = this.#client;
    if (client === undefined) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.subscribe(filter, { qos: 1 }, (err, granted) => {
        if (err) return reject(Object.assign(err, { topic: filter }));
        const refused = granted?.find((g) => g.qos >= 0x80);
        if (refused !== undefined) return reject(Object.assign(new Error(`broker refused subscription to ${filter}: reason code ${refused.qos}`), { code: refused.qos, topic: filter }));
        resolve();
      });
    });
  }

  /** Bytes written to the socket but not yet flushed by the kernel-side stream (for pacing decisions). */
  get client(): MqttClient | undefined {
    return this.#client;
  }

  /** Disconnects. With `graceful`, sends DISCONNECT (no last will); otherwise drops the socket (the broker sends the will). */
  async stop(graceful = true): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    this.#connected = false;
    if (client === undefined) return;
    await new Promise<void>((resolve) => client.end(!graceful, {}, () => resolve()));
  }
}

function net_isIP(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

/** The URL without credentials, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
