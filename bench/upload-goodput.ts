// How much of a slow link does evidence upload use?
// Link: 4 Mbit/s up and down, 40 ms each way, one shared FIFO (simulator LinkProxy).
// Ours: signed chunks through ChunkUploader on the paced bulk connection at the transport's
// DEFAULT settings (the same ones alarm-under-load uses), verified, stored and acknowledged by
// the real ingest; goodput = chunk bytes acknowledged by the ingest per second / link cap.
// Baseline (same run, same link): raw mqtt publishes of the same bytes as fast as the socket
// takes them, counted at PUBACK — what the link can carry with no pacing and no verification.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { resolveConfig } from '../agent/config/index.js';
import { createLogger } from '../lib/logger.js';
import { EvidenceSession } from '../agent/media/evidence.js';
import { ChunkUploader } from '../agent/media/uploader.js';
import { BulkPump } from '../agent/transport/bulk-pump.js';
import { Envelope } from '../agent/transport/envelope.js';
import { Ingest } from '../platform/ingest/index.js';
import { deviceTopic } from '../protocol/index.js';
import { LinkProxy } from '../simulator/link/link-proxy.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { report, round } from './_report.js';

const CAP_KBPS = 4000;
const LINK = { upKbps: CAP_KBPS, downKbps: CAP_KBPS, latencyMs: 40 };
const CHUNKS = Number(process.env.CHUNKS ?? 40);
const CHUNK_BYTES = 512 * 1024;
const silent = createLogger('bench', { level: 'silent' });

const broker = await Mosquitto.start();
const work = await mkdtemp(join(tmpdir(), 'nrec-goodput-'));
const store = join(work, 'store');
const device = 'bench-up';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
await mkdir(join(store, 'keys'), { recursive: true });
await writeFile(join(store, 'keys', `${device}.pem`), publicKey.export({ type: 'spki', format: 'pem' }).toString());
const ingest = await Ingest.open({ brokerUrl: broker.url, storeDir: store, logger: silent });
await ingest.start();

try {
  // Chunk files with random (incompressible) content, chained and signed like real evidence.
  const session = new EvidenceSession({ deviceId: device, sessionId: 'bench', trigger: 'visit', startedAt: Date.now(), codec: 'mpegts', privateKey });
  const files: Array<{ path: string; record: Awaited<ReturnType<EvidenceSession['addChunk']>> }> = [];
  const { randomBytes } = await import('node:crypto');
  for (let i = 0; i < CHUNKS; i++) {
    const path = join(work, `chunk-${String(i).padStart(6, '0')}.ts`);
    await writeFile(path, randomBytes(CHUNK_BYTES));
    files.push({ path, record: await session.addChunk({ path, startTime: i * 10_000, endTime: (i + 1) * 10_000, durationS: 10 }) });
  }
  const totalBytes = CHUNKS * CHUNK_BYTES;

  // Ours.
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const cfg = resolveConfig({ deviceId: device }).transport;
  const envelope = new Envelope(device);
  const uploader = new ChunkUploader({ dbPath: join(work, 'uploads.db'), envelope, partBytes: cfg.partBytes, logger: silent });
  const bulk = new BulkPump({
    session: { url: proxy.url, clientId: `${device}-bulk`, protocolVersion: 4, keepaliveS: 30, backoffMinMs: 200, backoffMaxMs: 2000 },
    source: uploader, logger: silent, minKbps: cfg.bulkMinKbps, maxKbps: cfg.bulkMaxKbps, adaptive: cfg.bulkAdaptive, targetDelayMs: cfg.queueDelayTargetMs, maxInFlightBytes: cfg.maxInFlightBytes,
  });
  // The ingest's acknowledgements travel back down the same link on the device's command topic.
  const acker = await mqtt.connectAsync(proxy.url, { clientId: device, protocolVersion: 4 });
  await acker.subscribeAsync(`nrec/v1/${device}/cmd/ack`, { qos: 1 });
  let ackedBytes = 0;
  const done = new Promise<number>((resolve) => {
    acker.on('message', (_t, payload) => {
      const ids = (JSON.parse(payload.toString()) as { acked: string[] }).acked;
      ackedBytes += uploader.onIngestAck(ids).length * CHUNK_BYTES;
      if (ackedBytes >= totalBytes) resolve(performance.now());
    });
  });
  const connected = new Promise<void>((r) => bulk.session.once('connect', () => r()));
  bulk.start();
  await connected;
  const t0 = performance.now();
  for (const f of files) uploader.enqueue(f.record, f.path, true);
  const t1 = await done;
  const oursBps = (ackedBytes * 8) / ((t1 - t0) / 1000);
  await bulk.stop();
  await acker.endAsync();
  uploader.close();
  await proxy.close();

  // Baseline: raw publishes of the same bytes in 32 KiB messages over a fresh link, no pacing.
  const proxy2 = await LinkProxy.start({ host: '127.0.0.1', port: broker.port }, LINK);
  const raw = await mqtt.connectAsync(proxy2.url, { clientId: `${device}-raw`, protocolVersion: 4 });
  const msg = Buffer.alloc(32 * 1024, 7);
  const n = Math.ceil(totalBytes / msg.length);
  const b0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => raw.publishAsync(deviceTopic(device, 'event', 'x'), msg, { qos: 1 })));
  const baseBps = (n * msg.length * 8) / ((performance.now() - b0) / 1000);
  await raw.endAsync();
  await proxy2.close();

  const capBps = CAP_KBPS * 1000;
  report({
    bench: 'upload-goodput',
    link: '4 Mbit/s up/down, 40 ms each way, shared FIFO',
    bytes: totalBytes,
    ours_kbps: round(oursBps / 1000),
    baseline_raw_kbps: round(baseBps / 1000),
    ours_stored: ingest.stats.accepted.media ?? 0,
    ratio: round(oursBps / capBps, 3),
  });
} finally {
  await ingest.stop();
  await broker.dispose();
  await rm(work, { recursive: true, force: true });
}
