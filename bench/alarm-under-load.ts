// How fast is an alarm while megabytes of media are queued on a slow link?
// Link: 2 Mbit/s up and down, 40 ms each way, one shared FIFO (simulator LinkProxy).
// Load: 20 MB of media parts queued. 50 alarms at random moments.
// Ours: the transport at its default settings (durable outbox + control connection,
// paced bulk connection with delay-based rate control).
// Baseline: a naive single FIFO publish queue over one connection (publish everything, QoS 1).
// Latency: from the put (ours) / publish call (baseline) to receipt at the ingest.
// Fairness: same link, same broker, same ingest, same payloads, fresh proxy per run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { resolveConfig } from '../agent/config/index.js';
import { createLogger } from '../lib/logger.js';
import { BulkPump } from '../agent/transport/bulk-pump.js';
import { Envelope } from '../agent/transport/envelope.js';
import { Outbox } from '../agent/transport/outbox.js';
import { MAX_AUTO_PART_BYTES } from '../agent/transport/part-size.js';
import { Transport } from '../agent/transport/transport.js';
import { Ingest } from '../platform/ingest/index.js';
import { deviceTopic } from '../protocol/index.js';
import { LinkProxy } from '../simulator/link/link-proxy.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { percentile, report, round } from './_report.js';
import { SyntheticBulkSource } from './_bulk-source.js';

const LINK = { upKbps: 2000, downKbps: 2000, latencyMs: 40 };
const MEDIA_BYTES = 20 * 1024 * 1024;
const ALARMS = Number(process.env.ALARMS ?? 50);
const SPREAD_MS = Number(process.env.SPREAD_MS ?? 30_000);
const WARMUP_MS = 3000;
const silent = createLogger('bench', { level: 'silent' });

function alarmBody(i: number) {
  return { alarmId: `bench-${i}`, state: 'raised' as const, trigger: 'test' as const, raisedAt: Date.now(), escalation: 0 };
}

/** Random moments, sorted, within the spread. */
function moments(n: number): number[] {
  return Array.from({ length: n }, () => Math.random() * SPREAD_MS).sort((a, b) => a - b);
}

async function runOurs(broker: Mosquitto, ingest: Ingest, device: string): Promise<number[]> {
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const dir = await mkdtemp(join(tmpdir(), 'nrec-bench-'));
  const cfg = resolveConfig({ deviceId: device, mqtt: { url: proxy.url, protocolVersion: 4 } });
  const outbox = Outbox.open(join(dir, 'outbox.db'));
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
  const latencies = await fireAlarms(ingest, async (i) => {
    await transport.send('alarm', 'alarm', alarmBody(i));
  });
  process.stderr.write(`ours: bulk acked ${(bulk.bytesAcked / 1e6).toFixed(1)} MB, rate ${(bulk.rate.rate * 8 / 1000).toFixed(0)} kbit/s, base ${bulk.rate.baseDelayMs} ms\n`);
  await bulk.stop();
  await transport.stop();
  outbox.close();
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
  return latencies;
}

async function runBaseline(broker: Mosquitto, ingest: Ingest, device: string): Promise<number[]> {
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const client = await mqtt.connectAsync(proxy.url, { clientId: device, protocolVersion: 4 });
  // A naive uploader: fixed parts of the largest size the protocol allows (the size does not matter
  // here: the alarm waits for everything queued before it).
  const source = new SyntheticBulkSource(deviceTopic(device, 'media', 'part'), MEDIA_BYTES, MAX_AUTO_PART_BYTES);
  for (let p = source.next(0); p !== undefined; p = source.next(0)) client.publish(p.topic, p.payload, { qos: 1 });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const env = new Envelope(device);
  const latencies = await fireAlarms(ingest, async (i) => {
    client.publish(deviceTopic(device, 'alarm'), JSON.stringify(env.make('alarm', alarmBody(i))), { qos: 1 });
  });
  client.end(true);
  await proxy.close();
  return latencies;
}

/** Fires ALARMS alarms at random moments; resolves with each one's latency to the ingest (ms). */
async function fireAlarms(ingest: Ingest, send: (i: number) => Promise<void>): Promise<number[]> {
  const started = new Map<string, number>();
  const latencies: number[] = [];
  const all = new Promise<void>((resolve) => {
    const on = (_d: string, stream: string, m: { alarmId?: string }) => {
      if (stream !== 'alarm' || m.alarmId === undefined || !started.has(m.alarmId)) return;
      latencies.push(performance.now() - started.get(m.alarmId)!);
      started.delete(m.alarmId);
      if (latencies.length === ALARMS) {
        ingest.off('stored', on);
        resolve();
      }
    };
    ingest.on('stored', on);
  });
  const t0 = performance.now();
  for (const [i, at] of moments(ALARMS).entries()) {
    const wait = at - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    started.set(`bench-${i}`, performance.now());
    await send(i);
  }
  await all;
  return latencies;
}

const broker = await Mosquitto.start();
const storeDir = await mkdtemp(join(tmpdir(), 'nrec-bench-store-'));
const ingest = await Ingest.open({ brokerUrl: broker.url, storeDir, logger: silent });
await ingest.start();
try {
  const ours = await runOurs(broker, ingest, 'bench-ours');
  const base = await runBaseline(broker, ingest, 'bench-base');
  const oursP99 = percentile(ours, 99);
  const baseP99 = percentile(base, 99);
  report({
    bench: 'alarm-under-load',
    link: '2 Mbit/s up/down, 40 ms each way, shared FIFO',
    media_mb: MEDIA_BYTES / 1024 / 1024,
    alarms: ALARMS,
    ours_p50_ms: round(percentile(ours, 50)),
    ours_p99_ms: round(oursP99),
    baseline_p50_ms: round(percentile(base, 50)),
    baseline_p99_ms: round(baseP99),
    ratio: round(baseP99 / oursP99),
  });
} finally {
  await ingest.stop();
  await broker.dispose();
  await rm(storeDir, { recursive: true, force: true });
}
