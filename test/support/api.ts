import { Writable } from 'node:stream';
import type { TSchema } from '@sinclair/typebox';
import mqtt, { type MqttClient } from 'mqtt';
import { createLogger } from '../../lib/logger.js';
import type { ApiOptions } from '../../platform/api/server.js';
import { newToken } from '../../platform/api/tokens.js';
import { Platform } from '../../platform/platform.js';
import type { ApiRole, PlatformStore } from '../../platform/store/index.js';
import type { ApiRoute } from '../../protocol/api.js';
import { Validator } from '../../protocol/index.js';

/*
 * The platform with its API on a real listener (127.0.0.1, a free port),
 * tokens made in its store, real HTTP requests through node's fetch, and a
 * device stand-in speaking the protocol over MQTT for tests that need a
 * device's side without the agent.
 */

/** Log lines captured (JSON), to check what was and was not logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface ApiPlatform {
  platform: Platform;
  url: string;
  store: PlatformStore;
  log: LogCapture;
  stop(): Promise<void>;
}

export async function startApiPlatform(o: {
  brokerUrl: string; storeDir: string; db?: string; api?: ApiOptions; now?: () => number;
  /** Listen here (default a free port): a restarted platform where the console expects it. */
  port?: number;
  /** Take evidence (default false). */
  media?: boolean;
  contactsFile?: string;
  /** The ingest's persistent session (default a fresh one): the same again after a restart. */
  clientId?: string;
  log?: LogCapture;
}): Promise<ApiPlatform> {
  const log = o.log ?? new LogCapture();
  const logger = createLogger('platform', { level: 'debug', destination: log, pretty: false });
  const platform = await Platform.start({
    brokerUrl: o.brokerUrl, storeDir: o.storeDir, db: o.db, logger, media: o.media ?? false, now: o.now, contactsFile: o.contactsFile,
    clientId: o.clientId ?? `api-test-${Math.random().toString(36).slice(2, 10)}`,
    http: { host: '127.0.0.1', port: o.port ?? 0, ...o.api },
  });
  return { platform, url: platform.api!.url, store: platform.store, log, stop: () => platform.stop() };
}

/** Makes a token in the store as `nrec token create` does; returns the token. */
export async function makeToken(store: PlatformStore, role: ApiRole, name: string, extra: { expiresAt?: number; createdAt?: number } = {}): Promise<string> {
  const t = newToken();
  await store.createToken({ id: t.id, name, role, hash: t.hash, createdAt: extra.createdAt ?? Date.now(), ...(extra.expiresAt !== undefined ? { expiresAt: extra.expiresAt } : {}) });
  return t.token;
}

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One real HTTP request; the body parsed as JSON when it is JSON. */
export async function call<T = any>(base: string, path: string, o: { token?: string; method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers };
  if (o.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${base}${path}`, { method: o.method ?? 'GET', headers, body: o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: body as T, text };
}

const validators = new Map<TSchema, Validator<TSchema>>();

/** The documented schema's complaints about a JSON answer (empty: it matches what the OpenAPI document says). */
export function undocumented(route: ApiRoute, status: number, body: unknown): string[] {
  const schema = route.responses[status]?.schema;
  if (schema === undefined) return [`${route.operationId}: no JSON response ${status} is documented`];
  let v = validators.get(schema);
  if (v === undefined) {
    v = new Validator(schema);
    validators.set(schema, v);
  }
  const r = v.check(body);
  return r.ok ? [] : r.errors;
}

/** A device speaking the protocol over MQTT: publishes its streams with proper envelopes, answers commands as told. */
export class DeviceStandIn {
  readonly id: string;
  readonly bootId: string;
  readonly client: MqttClient;
  readonly commands: Array<{ id: string; name: string; args?: Record<string, unknown>; expiresAt: number }> = [];
  #seq = new Map<string, number>();
  /** How it answers a command (default: ok, result {name}); undefined: no answer. */
  answer: ((cmd: { id: string; name: string; args?: Record<string, unknown> }) => { status: string; result?: unknown; reason?: string } | undefined) | undefined = (c) => ({ status: 'ok', result: { did: c.name } });

  private constructor(id: string, bootId: string, client: MqttClient) {
    this.id = id;
    this.bootId = bootId;
    this.client = client;
  }

  /** Connects with a last will (retained offline status of this boot) and subscribes to its cmd topics. */
  static async connect(brokerUrl: string, id: string): Promise<DeviceStandIn> {
    const bootId = `${id}-b${Math.random().toString(36).slice(2, 8)}`;
    const will = { v: 1, id: `${bootId}-sta-will`, deviceId: id, bootId, seq: 1_000_000, ts: Date.now(), state: 'offline', reason: 'connection lost' };
    const client = mqtt.connect(brokerUrl, { clientId: `dev-${id}`, clean: true, reconnectPeriod: 0, will: { topic: `nrec/v1/${id}/status`, payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true } });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const d = new DeviceStandIn(id, bootId, client);
    client.on('message', (topic, payload) => {
      if (!topic.endsWith('/cmd/req')) return;
      const cmd = JSON.parse(payload.toString('utf8')) as { id: string; name: string; args?: Record<string, unknown>; expiresAt: number };
      d.commands.push(cmd);
      const a = d.answer?.(cmd);
      if (a !== undefined) void d.publish('result', { requestId: cmd.id, name: cmd.name, ...a });
    });
    await client.subscribeAsync(`nrec/v1/${id}/cmd/#`, { qos: 1 });
    return d;
  }

  /** Publishes one message on a stream (QoS 1) and resolves on PUBACK; returns the message. */
  async publish(stream: string, body: Record<string, unknown>, o: { retain?: boolean; sub?: string } = {}): Promise<Record<string, unknown>> {
    const seq = this.#seq.get(stream) ?? 0;
    this.#seq.set(stream, seq + 1);
    const msg = { v: 1, id: `${this.bootId}-${stream.slice(0, 3)}-${seq}`, deviceId: this.id, bootId: this.bootId, seq, ts: Date.now(), ...body };
    await this.client.publishAsync(`nrec/v1/${this.id}/${stream}${o.sub ? `/${o.sub}` : ''}`, JSON.stringify(msg), { qos: 1, retain: o.retain ?? false });
    return msg;
  }

  birth(): Promise<Record<string, unknown>> {
    return this.publish('status', { state: 'online', agentVersion: 'stand-in' }, { retain: true });
  }

  location(lat: number, lon: number, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.publish('location', { fix: { lat, lon, time: Date.now(), fixType: '3d', accuracyM: 4, ...extra }, reason: 'interval' });
  }

  alarm(alarmId: string, state: 'raised' | 'acknowledged' | 'cancelled' | 'resolved', escalation = 0): Promise<Record<string, unknown>> {
    return this.publish('alarm', { alarmId, state, trigger: 'button', raisedAt: Date.now(), escalation, fix: { lat: 52.52, lon: 13.405, time: Date.now(), fixType: '3d', accuracyM: 5 }, batteryPct: 77 });
  }

  health(pct: number): Promise<Record<string, unknown>> {
    return this.publish('health', {
      trigger: 'interval', battery: { pct, status: 'discharging' }, storage: { freeBytes: 1e9, usedBytes: 1e6, quotaBytes: 5e8 },
      uptimeS: 100, clockSynced: true, queues: { alarm: { count: 0, bytes: 0 } }, states: { gps: 'fix' },
    });
  }

  /** Drops the connection without a DISCONNECT: the broker publishes the will. */
  kill(): void {
    this.client.stream.destroy();
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
