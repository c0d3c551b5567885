// How fast is an alarm while megabytes of media are being uploaded over a slow
// link, and how much of the link does the media still get meanwhile?
//
// Link: 2 Mbit/s up and down, 40 ms each way, one FIFO per direction shared by
// every connection, 2 MiB modem buffer (simulator LinkProxy). Load: 20 MB of
// media parts to upload (more than the run lasts). ALARMS (default 200) alarms
// at random moments over SPREAD_MS (30 s) after a 3 s warm-up. LINK_KBPS,
// LINK_LATENCY_MS and MEDIA_MB change the link and the load; RUNS picks designs.
//
// Ours: the transport at its default settings: durable outbox and control
// connection for the alarm, media on a second connection, paced, with the
// delay-based rate controller and automatic part size.
// Baseline (the ratio's): what a competent engineer builds first — the same
// two connections, media on its own connection, no pacing, no rate
// controller: an uploader that publishes a part and the next when the broker
// has acknowledged it (BASE_WINDOW parts in flight, default 1), parts of
// BASE_PART_KIB (default 128, the protocol's largest part size), alarms at
// QoS 1 on the other connection.
// Reference: the single FIFO — everything on one connection, all parts
// published at once, then the alarms behind them.
//
// Alarm latency: from the send (ours: Transport.send, which commits to the
// outbox first; the others: the publish call) until the platform has stored
// it: `nrec ingest` (its own process, SQLite store on a real disk) publishes
// its confirmation after the commit, and this process sees it from a
// subscriber connected straight to the broker (not through the link).
// Media goodput: payload bytes of media parts reaching the broker while the
// alarms are sent (first to last), as a share of the link rate, counted by the
// same direct subscriber. The ingest refuses the synthetic parts (they carry
// no chunk header), which costs it a rejected-row insert per part.
// Fairness: same link settings, broker, ingest and alarm payloads; a fresh
// link proxy per run (nothing queued from the previous one).
import mqtt from 'mqtt';
import { resolveConfig } from '../agent/config/index.js';
import { createLogger } from '../lib/logger.js';
import { BulkPump } from '../agent/transport/bulk-pump.js';
import { Envelope } from '../agent/transport/envelope.js';
import { Outbox } from '../agent/transport/outbox.js';
import { MAX_AUTO_PART_BYTES } from '../agent/transport/part-size.js';
import { Transport } from '../agent/transport/transport.js';
import { PROTOCOL_VERSION, TOPIC_ROOT, ackedIds, deviceTopic, parseTopic } from '../protocol/index.js';
import { LinkProxy } from '../simulator/link/link-proxy.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { benchDir } from './_disk.js';
import { IngestProcess } from './_ingest-process.js';
import { percentile, report, round } from './_report.js';
import { SyntheticBulkSource } from './_bulk-source.js';

const LINK_KBPS = Number(process.env.LINK_KBPS ?? 2000);
const LINK = { upKbps: LINK_KBPS, downKbps: LINK_KBPS, latencyMs: Number(process.env.LINK_LATENCY_MS ?? 40) };
const LINK_BYTES_PER_S = (LINK.upKbps * 1000) / 8;
const MEDIA_BYTES = Number(process.env.MEDIA_MB ?? 20) * 1024 * 1024;
const ALARMS = Number(process.env.ALARMS ?? 200);
const SPREAD_MS = Number(process.env.SPREAD_MS ?? 30_000);
const WARMUP_MS = 3000;
const BASE_PART_BYTES = Number(process.env.BASE_PART_KIB ?? MAX_AUTO_PART_BYTES / 1024) * 1024;
const BASE_WINDOW = Number(process.env.BASE_WINDOW ?? 1);
/** Which designs to run (comma-separated): ours, two-connections, single-fifo. */
const RUNS = (process.env.RUNS ?? 'ours,two-connections,single-fifo').split(',');
const silent = createLogger('bench', { level: 'silent' });

function alarmBody(i: number) {
  return { alarmId: `bench-${i}`, state: 'raised' as const, trigger: 'test' as const, raisedAt: Date.now(), escalation: 0 };
}

/** Random moments, sorted, within the spread. */
function moments(n: number): number[] {
  return Array.from({ length: n }, () => Math.random() * SPREAD_MS).sort((a, b) => a - b);
}

/**
 * Straight to the broker (no link in between): sees the ingest's confirmations (the platform stored a
 * message) and every media part arriving at the broker (what crossed the link).
 */
class Observer {
  readonly #client: mqtt.MqttClient;
  readonly #confirmed = new Map<string, (at: number) => void>();
  /** Arrival time and payload size of each media part, per device. */
  readonly media = new Map<string, Array<[number, number]>>();

  private constructor(client: mqtt.MqttClient) {
    this.#client = client;
    client.on('message', (topic, payload) => {
      const at = performance.now();
      const t = parseTopic(topic);
      if (!t.ok) return;
      if (t.direction === 'device') {
        const list = this.media.get(t.deviceId) ?? [];
        list.push([at, payload.length]);
        this.media.set(t.deviceId, list);
        return;
      }
      const ack = JSON.parse(payload.toString()) as { acked?: string[]; ranges?: Array<{ prefix: string; first: number; last: number }> };
      for (const id of ackedIds(ack)) {
        this.#confirmed.get(id)?.(at);
        this.#confirmed.delete(id);
      }
    });
  }

  static async connect(url: string): Promise<Observer> {
    const client = await mqtt.connectAsync(url, { clientId: `bench-observer-${process.pid}`, protocolVersion: 4 });
    const root = `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/+`;
    await client.subscribeAsync([`${root}/media/part`, `${root}/cmd/ack`], { qos: 0 });
    return new Observer(client);
  }

  /** Resolves with the moment the platform confirms message `id` as stored. */
  stored(id: string): Promise<number> {
    return new Promise((resolve) => this.#confirmed.set(id, resolve));
  }

  /** Media payload bytes of `deviceId` that reached the broker in [from, to], per second. */
  goodput(deviceId: string, from: number, to: number): number {
    let bytes = 0;
    for (const [at, n] of this.media.get(deviceId) ?? []) if (at >= from && at <= to) bytes += n;
    return bytes / ((to - from) / 1000);
  }

  async close(): Promise<void> {
    await this.#client.endAsync();
  }
}

interface Run {
  latencies: number[];
  /** Media goodput while the alarms were sent, bytes/s. */
  goodput: number;
  note?: string;
}

/** Fires ALARMS alarms at random moments; `send` returns the id to wait for. Resolves with latencies and the firing window. */
async function fireAlarms(observer: Observer, send: (i: number) => Promise<{ id: string; stored: Promise<number> }>) {
  const waits: Array<Promise<number>> = [];
  const t0 = performance.now();
  let last = t0;
  for (const [i, at] of moments(ALARMS).entries()) {
    const wait = at - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.now();
    last = sentAt;
    const { stored } = await send(i);
    waits.push(stored.then((storedAt) => storedAt - sentAt));
  }
  return { latencies: await Promise.all(waits), from: t0, to: last };
}

async function runOurs(broker: Mosquitto, observer: Observer, device: string): Promise<Run> {
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const dir = benchDir('nrec-bench-outbox-');
  const cfg = resolveConfig({ deviceId: device, mqtt: { url: proxy.url, protocolVersion: 4 } });
  const outbox = Outbox.open(dir.file('outbox.db'));
  const session = { url: proxy.url, protocolVersion: cfg.mqtt.protocolVersion, keepaliveS: 30, backoffMinMs: 200, backoffMaxMs: 2000 };
  const transport = new Transport({ envelope: new Envelope(device), outbox, logger: silent, agentVersion: 'bench', backfillBatch: cfg.transport.backfillBatch, session });
  const source = new SyntheticBulkSource(deviceTopic(device, 'media', 'part'), MEDIA_BYTES, cfg.transport.partBytes);
  const t = cfg.transport;
  const bulk = new BulkPump({
    session: { ...session, clientId: `${device}-bulk` },
    source,
    logger: silent,
    minKbps: t.bulkMinKbps,
    maxKbps: t.bulkMaxKbps,
    adaptive: t.bulkAdaptive,
    targetDelayMs: t.queueDelayTargetMs,
    maxInFlightBytes: t.maxInFlightBytes,
  });
  const connected = new Promise<void>((r) => transport.once('connect', () => r()));
  transport.start();
  bulk.start();
  await connected;
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const fired = await fireAlarms(observer, async (i) => {
    const msg = await transport.send('alarm', 'alarm', alarmBody(i));
    return { id: msg.id, stored: observer.stored(msg.id) };
  });
  const note = `bulk rate ${(bulk.rate.rate * 8 / 1000).toFixed(0)} kbit/s at the end, base delay ${bulk.rate.baseDelayMs} ms`;
  await bulk.stop();
  await transport.stop();
  outbox.close();
  await proxy.close();
  dir.remove();
  return { latencies: fired.latencies, goodput: observer.goodput(device, fired.from, fired.to), note };
}

/** Two connections, media unpaced on its own: a part, and the next when the broker has acknowledged it (BASE_WINDOW in flight). */
async function runTwoConnections(broker: Mosquitto, observer: Observer, device: string): Promise<Run> {
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const alarms = await mqtt.connectAsync(proxy.url, { clientId: device, protocolVersion: 4 });
  const media = await mqtt.connectAsync(proxy.url, { clientId: `${device}-bulk`, protocolVersion: 4 });
  const source = new SyntheticBulkSource(deviceTopic(device, 'media', 'part'), MEDIA_BYTES, BASE_PART_BYTES);
  let stopped = false;
  const uploader = async () => {
    for (let p = source.next(0); p !== undefined && !stopped; p = source.next(0)) await media.publishAsync(p.topic, p.payload, { qos: 1 });
  };
  // Not awaited at the end: publishes cut off by the forced disconnect never settle.
  for (let w = 0; w < BASE_WINDOW; w++) void uploader().catch(() => undefined);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const env = new Envelope(device);
  const fired = await fireAlarms(observer, async (i) => {
    const msg = env.make('alarm', alarmBody(i));
    const stored = observer.stored(msg.id);
    alarms.publish(deviceTopic(device, 'alarm'), JSON.stringify(msg), { qos: 1 });
    return { id: msg.id, stored };
  });
  stopped = true;
  alarms.end(true);
  media.end(true);
  await proxy.close();
  return { latencies: fired.latencies, goodput: observer.goodput(device, fired.from, fired.to) };
}

/** One connection: every part published at once, the alarms behind them. */
async function runSingleFifo(broker: Mosquitto, observer: Observer, device: string): Promise<Run> {
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const client = await mqtt.connectAsync(proxy.url, { clientId: device, protocolVersion: 4 });
  const source = new SyntheticBulkSource(deviceTopic(device, 'media', 'part'), MEDIA_BYTES, MAX_AUTO_PART_BYTES);
  for (let p = source.next(0); p !== undefined; p = source.next(0)) client.publish(p.topic, p.payload, { qos: 1 });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const env = new Envelope(device);
  const fired = await fireAlarms(observer, async (i) => {
    const msg = env.make('alarm', alarmBody(i));
    const stored = observer.stored(msg.id);
    client.publish(deviceTopic(device, 'alarm'), JSON.stringify(msg), { qos: 1 });
    return { id: msg.id, stored };
  });
  client.end(true);
  await proxy.close();
  return { latencies: fired.latencies, goodput: observer.goodput(device, fired.from, fired.to) };
}

const broker = await Mosquitto.start();
const storeDir = benchDir('nrec-bench-store-');
let ingest: IngestProcess | undefined;
let observer: Observer | undefined;
try {
  ingest = await IngestProcess.start({ brokerUrl: broker.url, storeDir: storeDir.path, logLevel: 'error' });
  observer = await Observer.connect(broker.url);
  const runs = new Map<string, Run>();
  if (RUNS.includes('ours')) runs.set('ours', await runOurs(broker, observer, 'bench-ours'));
  if (RUNS.includes('two-connections')) runs.set('two-connections', await runTwoConnections(broker, observer, 'bench-two'));
  if (RUNS.includes('single-fifo')) runs.set('single-fifo', await runSingleFifo(broker, observer, 'bench-fifo'));
  for (const [name, r] of runs) if (r.note) process.stderr.write(`${name}: ${r.note}\n`);
  const line = (r: Run | undefined) => r && {
    p50_ms: round(percentile(r.latencies, 50)),
    p99_ms: round(percentile(r.latencies, 99)),
    max_ms: round(Math.max(...r.latencies)),
    media_goodput_share: round(r.goodput / LINK_BYTES_PER_S, 3),
  };
  const ours = runs.get('ours');
  const base = runs.get('two-connections');
  report({
    bench: 'alarm-under-load',
    link: `${LINK_KBPS / 1000} Mbit/s up/down, ${LINK.latencyMs} ms each way, shared FIFO, 2 MiB buffer`,
    media_mb: MEDIA_BYTES / 1024 / 1024,
    alarms: ALARMS,
    ours: line(ours),
    baseline: base && { design: `two connections, media unpaced, ${BASE_PART_BYTES / 1024} KiB parts, ${BASE_WINDOW} in flight`, ...line(base) },
    single_fifo: line(runs.get('single-fifo')),
    ratio: ours && base ? round(percentile(base.latencies, 99) / percentile(ours.latencies, 99)) : Number.NaN,
  });
} finally {
  await observer?.close();
  await ingest?.stop();
  await broker.dispose();
  storeDir.remove();
}
