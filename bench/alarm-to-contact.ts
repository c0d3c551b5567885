// How long from a button press to the emergency contact's webhook, while megabytes
// of video are queued on a slow link?
// Link: 2 Mbit/s up and down, 40 ms each way, one shared FIFO (simulator LinkProxy),
// 20 MB of media parts queued on it (the alarm-under-load setup).
// Device side, in this process: the simulator's sysfs GPIO tree, the agent's sysfs
// button backend and press pipeline, then
//   ours: SosMachine + AlarmService + Transport (durable alarm lane, control connection)
//         beside the paced bulk connection at the transport's default settings;
//   baseline: the same line and press pipeline, each SOS published on one naive FIFO
//         connection behind everything queued on it (alarm-under-load's baseline).
// Platform, the same for both: Mosquitto, the ingest (SQLite store), the command sender
// and the alarm desk with a contacts file whose first tier is a webhook to an HTTP
// server in this process.
// End to end: from the moment the hold threshold is crossed (press + sosHoldMs; the hold
// itself is the gesture, not latency) to the webhook's arrival. Platform share: from the
// ingest's receipt of the alarm (its stored rx) to the webhook's arrival.
// Ours presses one at a time; each alarm is resolved through the desk (alarm.resolve to
// the device) before the next press, so every press raises a new alarm. The baseline
// has no alarm state: its presses come at random moments over SPREAD_MS.
// PRESSES (default 20), MEDIA_MB (default 20), SPREAD_MS (default 30000).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { AlarmService } from '../agent/alarm/alarm-service.js';
import { FileSosStore, openInputLine, PressPipeline, realScheduler, SosMachine, type PressEvent } from '../agent/button/index.js';
import { CommandRegistry } from '../agent/commands/command-registry.js';
import { resolveConfig } from '../agent/config/index.js';
import { BulkPump } from '../agent/transport/bulk-pump.js';
import { Envelope } from '../agent/transport/envelope.js';
import { Outbox } from '../agent/transport/outbox.js';
import { MAX_AUTO_PART_BYTES } from '../agent/transport/part-size.js';
import { Transport } from '../agent/transport/transport.js';
import { createLogger } from '../lib/logger.js';
import { createCommandSender } from '../platform/commands/index.js';
import { createAlarmDesk, openContacts, type Notice } from '../platform/desk/index.js';
import { Ingest } from '../platform/ingest/index.js';
import { openStore } from '../platform/store/index.js';
import { deviceTopic, type Fix } from '../protocol/index.js';
import { SysfsGpioTree } from '../simulator/gpio/sysfs-tree.js';
import { LinkProxy } from '../simulator/link/link-proxy.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { HttpReceiver } from '../test/support/receivers.js';
import { percentile, report, round } from './_report.js';
import { SyntheticBulkSource } from './_bulk-source.js';

const LINK = { upKbps: 2000, downKbps: 2000, latencyMs: 40 };
const MEDIA_BYTES = Number(process.env.MEDIA_MB ?? 20) * 1024 * 1024;
const PRESSES = Number(process.env.PRESSES ?? 20);
const SPREAD_MS = Number(process.env.SPREAD_MS ?? 30_000);
const HOLD_MS = 200;
const DEBOUNCE_MS = 30;
const WARMUP_MS = 3000;
const silent = createLogger('bench', { level: process.env.BENCH_LOG ?? 'silent' });
const FIX: Fix = { lat: 52.52, lon: 13.405, time: Date.now(), fixType: '3d', accuracyM: 6 };

interface Sample { e2e: number; platform: number }

/** Epoch ms with sub-ms resolution: the same clock as Date.now, which stamps the ingest's receipt and the webhook's arrival. */
const now = () => performance.timeOrigin + performance.now();

/** The simulated button with the agent's sysfs backend and press pipeline. */
async function button(dir: string) {
  const tree = new SysfsGpioTree({ root: join(dir, 'sys-class-gpio') });
  const line = openInputLine({ backend: 'sysfs', sysfsRoot: tree.root, chip: 'gpiochip0', line: 17, pollMs: 10 }, realScheduler, silent);
  const pipeline = new PressPipeline(line, realScheduler, { debounceMs: DEBOUNCE_MS, longPressMs: HOLD_MS, cancelWindowMs: 10_000 });
  await line.start();
  pipeline.reset(await line.read(), realScheduler.now());
  return {
    pipeline,
    /** Holds the button past the SOS threshold; resolves with the moment the threshold was crossed. */
    async press(): Promise<number> {
      const at = now();
      tree.press();
      await new Promise((r) => setTimeout(r, HOLD_MS + 100));
      tree.release();
      await new Promise((r) => setTimeout(r, DEBOUNCE_MS + 20));
      return at + HOLD_MS;
    },
    async close() {
      pipeline.dispose();
      await line.stop();
      tree.close();
    },
  };
}

/** The webhook's arrival for an alarm, and the platform's share of it (ingest receipt → arrival). */
function arrivals(http: HttpReceiver, store: Awaited<ReturnType<typeof openStore>>) {
  const waiting = new Map<string, (at: number) => void>();
  const seen = new Map<string, number>();
  http.on('request', (r) => {
    const n = JSON.parse(r.body) as Notice;
    const at = now();
    seen.set(n.alarmId, at);
    waiting.get(n.alarmId)?.(at);
  });
  return async (deviceId: string, alarmId: string, threshold: number): Promise<Sample> => {
    const at = seen.get(alarmId) ?? (await new Promise<number>((resolve) => waiting.set(alarmId, resolve)));
    waiting.delete(alarmId);
    const rx = (await store.alarm(deviceId, alarmId))!.history[0].rx;
    return { e2e: at - threshold, platform: at - rx };
  };
}

async function runOurs(broker: Mosquitto, ingest: Ingest, desk: Awaited<ReturnType<typeof createAlarmDesk>>, webhook: ReturnType<typeof arrivals>): Promise<Sample[]> {
  const device = 'bench-ours';
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const dir = await mkdtemp(join(tmpdir(), 'nrec-bench-a2c-'));
  const cfg = resolveConfig({ deviceId: device, mqtt: { url: proxy.url, protocolVersion: 4 } });
  const outbox = Outbox.open(join(dir, 'outbox.db'));
  const session = { url: proxy.url, protocolVersion: cfg.mqtt.protocolVersion, keepaliveS: 30, backoffMinMs: 200, backoffMaxMs: 2000 };
  const transport = new Transport({ envelope: new Envelope(device), outbox, logger: silent, agentVersion: 'bench', backfillBatch: cfg.transport.backfillBatch, session });
  const t = cfg.transport;
  const bulk = new BulkPump({
    session: { ...session, clientId: `${device}-bulk` }, source: new SyntheticBulkSource(deviceTopic(device, 'media', 'part'), MEDIA_BYTES, t.partBytes), logger: silent,
    minKbps: t.bulkMinKbps, maxKbps: t.bulkMaxKbps, adaptive: t.bulkAdaptive, targetDelayMs: t.queueDelayTargetMs, maxInFlightBytes: t.maxInFlightBytes,
  });
  const commands = new CommandRegistry(join(dir, 'commands.db'), device, silent);
  transport.on('command', (payload: Buffer) => void commands.handle(payload).then((r) => (r ? transport.send('result', 'result', r) : undefined)));
  const sos = new SosMachine(realScheduler, new FileSosStore(join(dir, 'sos.json')), { resendIntervalMs: 15_000 });
  const alarms = new AlarmService({ sos, transport, commands, logger: silent, lastFix: () => ({ ...FIX, time: Date.now() - 2000 }), batteryPct: () => 80, onRaise: [] });
  const b = await button(dir);
  b.pipeline.on('press', (e: PressEvent) => alarms.onPress(e));
  const connected = new Promise<void>((r) => transport.once('connect', () => r()));
  transport.start();
  bulk.start();
  await connected;
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < PRESSES; i++) {
      const raised = nextAlarm(ingest, device, 'raised');
      const threshold = await b.press();
      const alarmId = await raised;
      samples.push(await webhook(device, alarmId, threshold));
      const resolved = nextAlarm(ingest, device, 'resolved', alarmId);
      await desk.resolve(device, alarmId, 'bench', 'benchmark press');
      await resolved;
    }
    process.stderr.write(`ours: bulk acked ${(bulk.bytesAcked / 1e6).toFixed(1)} MB of ${(MEDIA_BYTES / 1e6).toFixed(1)} during the presses\n`);
  } finally {
    await b.close();
    sos.dispose();
    await bulk.stop();
    await transport.stop();
    commands.close();
    outbox.close();
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  }
  return samples;
}

async function runBaseline(broker: Mosquitto, webhook: ReturnType<typeof arrivals>): Promise<Sample[]> {
  const device = 'bench-base';
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const dir = await mkdtemp(join(tmpdir(), 'nrec-bench-a2c-'));
  const client = await mqtt.connectAsync(proxy.url, { clientId: device, protocolVersion: 4 });
  const source = new SyntheticBulkSource(deviceTopic(device, 'media', 'part'), MEDIA_BYTES, MAX_AUTO_PART_BYTES);
  for (let p = source.next(0); p !== undefined; p = source.next(0)) client.publish(p.topic, p.payload, { qos: 1 });
  const env = new Envelope(device);
  const b = await button(dir);
  let n = 0;
  const pending: string[] = [];
  b.pipeline.on('press', (e: PressEvent) => {
    if (e.kind !== 'sos') return;
    const alarmId = `base-${n++}`;
    client.publish(deviceTopic(device, 'alarm'), JSON.stringify(env.make('alarm', { alarmId, state: 'raised', trigger: 'button', raisedAt: Date.now(), escalation: 0, fix: { ...FIX, time: Date.now() - 2000 }, batteryPct: 80 })), { qos: 1 });
    pending.push(alarmId);
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const t0 = now();
  const moments = Array.from({ length: PRESSES }, () => Math.random() * SPREAD_MS).sort((a, c) => a - c);
  const thresholds: number[] = [];
  for (const at of moments) {
    const wait = at - (now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    thresholds.push(await b.press());
  }
  // One SOS per press, in order.
  const samples = await Promise.all(pending.map((alarmId, i) => webhook(device, alarmId, thresholds[i])));
  await b.close();
  client.end(true);
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
  return samples;
}

/** The alarm id of the next alarm message of `deviceId` in `state` the ingest stores. */
function nextAlarm(ingest: Ingest, deviceId: string, state: string, alarmId?: string): Promise<string> {
  return new Promise((resolve) => {
    const on = (d: string, stream: string, m: { alarmId: string; state: string }) => {
      if (d !== deviceId || stream !== 'alarm' || m.state !== state || (alarmId !== undefined && m.alarmId !== alarmId)) return;
      ingest.off('stored', on);
      resolve(m.alarmId);
    };
    ingest.on('stored', on);
  });
}

const broker = await Mosquitto.start();
const dir = await mkdtemp(join(tmpdir(), 'nrec-bench-platform-'));
const http = await HttpReceiver.start();
await writeFile(join(dir, 'webhook.secret'), 'bench-webhook-secret-0123456789abcdef', { mode: 0o600 });
await writeFile(join(dir, 'contacts.json'), JSON.stringify({
  channels: { webhook: { secretFile: 'webhook.secret' } },
  contacts: { desk: { name: 'Bench receiver', channels: [{ type: 'webhook', url: http.url('/alarm') }] } },
  escalation: { tiers: [{ contacts: ['desk'] }] },
  devices: { 'bench-ours': { name: 'Ours' }, 'bench-base': { name: 'Baseline' } },
}));
const store = await openStore(join(dir, 'platform.db'), { logger: silent });
const ingest = new Ingest({ brokerUrl: broker.url, storeDir: dir, store, logger: silent });
const contacts = await openContacts(join(dir, 'contacts.json'), { logger: silent });
const commands = await createCommandSender({ store, ingest, logger: silent });
const desk = await createAlarmDesk({ store, ingest, commands, contacts, logger: silent, logArrivals: false });
await ingest.start();
try {
  const webhook = arrivals(http, store);
  const ours = await runOurs(broker, ingest, desk, webhook);
  const base = await runBaseline(broker, webhook);
  const p99 = (s: Sample[], k: keyof Sample) => percentile(s.map((x) => x[k]), 99);
  const p50 = (s: Sample[], k: keyof Sample) => percentile(s.map((x) => x[k]), 50);
  report({
    bench: 'alarm-to-contact',
    link: '2 Mbit/s up/down, 40 ms each way, shared FIFO',
    media_mb: MEDIA_BYTES / 1024 / 1024,
    presses: PRESSES,
    ours_p50_ms: round(p50(ours, 'e2e')),
    ours_p99_ms: round(p99(ours, 'e2e')),
    ours_platform_p50_ms: round(p50(ours, 'platform')),
    ours_platform_p99_ms: round(p99(ours, 'platform')),
    baseline_p50_ms: round(p50(base, 'e2e')),
    baseline_p99_ms: round(p99(base, 'e2e')),
    baseline_platform_p99_ms: round(p99(base, 'platform')),
    ratio: round(p99(base, 'e2e') / p99(ours, 'e2e')),
  });
} finally {
  await desk.stop();
  await commands.stop();
  contacts.close();
  await ingest.stop();
  await http.close();
  await broker.dispose();
  await rm(dir, { recursive: true, force: true });
}
