// Question: how fast does the durable transport move a backlog of 20,000
// locations to the platform, next to a bare MQTT client that keeps nothing?
//
// Ours: Transport.send (envelope, Outbox.put: SQLite WAL, synchronous=FULL,
// group commit) → ControlPump (lane windows, backfill batches) → MqttSession
// at QoS 1 → Mosquitto (default settings) → `nrec ingest` (its own process, as
// the platform runs it: a SQLite commit holds its event loop) committing to its
// SQLite store (synchronous=FULL) → the ingest's end-to-end confirmation back
// on cmd/ack → the rows leave the outbox. Timed from the first send until the
// outbox is empty (everything confirmed: stored at the platform); the time of
// the last PUBACK is taken too, so what the confirmation costs on top of the
// broker's acknowledgement is visible. Both databases are on a real disk
// (bench/_disk.ts refuses tmpfs; $BENCH_DIR picks another place).
//
// Baseline: an mqtt.js client publishing the very same messages the same way
// — the same 400 backfill batches of 50 locations (batched), or the same
// 20,000 single locations (unbatched) — at QoS 1, all at once (pipelined),
// nothing durable, timed until the last PUBACK. Same broker, same ingest
// subscribed. How many of its messages reach the store is counted: the bare
// client has no way to learn that the broker dropped some (Mosquitto queues
// 1000 messages per session by default and drops the rest silently).
//
// One JSON line per mode; ratio = ours (until confirmed) / baseline (until
// PUBACK), msg/s. Rounds alternate between the sides; the best round counts.
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { createLogger } from '../lib/logger.js';
import { Envelope } from '../agent/transport/envelope.js';
import { Outbox } from '../agent/transport/outbox.js';
import { Transport } from '../agent/transport/transport.js';
import { deviceTopic } from '../protocol/index.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { benchDir } from './_disk.js';
import { IngestProcess } from './_ingest-process.js';
import { report, round } from './_report.js';

const MESSAGES = Number(process.env.MESSAGES ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BATCH = 50; // transport.backfillBatch's default
const MODES = (process.env.MODES ?? 'batched,unbatched').split(',') as Array<'batched' | 'unbatched'>;
const silent = createLogger('bench', { level: 'silent', pretty: false });

function body(i: number) {
  return {
    fix: { lat: 35.6467 + i * 1e-5, lon: 139.6533 + i * 1e-5, time: 1_795_000_000_000 + i * 1000, fixType: '3d' as const, altM: 38.5, speedMps: 1.4, courseDeg: 61.3, accuracyM: 4.6, hdop: 0.92, satsUsed: 9 },
    reason: 'interval' as const,
  };
}

/** Counts, in the ingest's SQLite store, what it stored per device (read-only, beside the running ingest). */
class StoredCounter {
  readonly #db: Database.Database;
  readonly #q: Database.Statement<[string], { n: number; last: number | null }>;

  constructor(path: string) {
    this.#db = new Database(path, { readonly: true, fileMustExist: true });
    this.#q = this.#db.prepare("SELECT count(*) AS n, max(rx) AS last FROM messages WHERE device_id = ? AND stream = 'location'");
  }

  count(deviceId: string): { n: number; last: number | null } {
    return this.#q.get(deviceId)!;
  }

  /**
   * Waits until `deviceId` has `n` messages stored, or nothing more arrived for `quietMs`; returns the
   * count and, when all arrived, the receipt time (epoch ms) of the last one.
   */
  async wait(deviceId: string, n: number, quietMs = 2000): Promise<{ n: number; last: number | undefined }> {
    let seen = -1;
    let since = Date.now();
    for (;;) {
      const c = this.count(deviceId);
      if (c.n >= n) return { n: c.n, last: c.last ?? undefined };
      if (c.n !== seen) {
        seen = c.n;
        since = Date.now();
      } else if (Date.now() - since > quietMs) {
        return { n: c.n, last: undefined };
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.#db.close();
  }
}

interface OursRun { confirmedMs: number; pubackMs: number; durableMs: number; stored: number }

/** MESSAGES through Transport + Outbox + ControlPump, until the ingest has confirmed all of them. */
async function ours(url: string, counter: StoredCounter, device: string, backfillBatch: number): Promise<OursRun> {
  const dir = benchDir('nrec-bench-outbox-');
  const outbox = Outbox.open(dir.file('outbox.db'));
  const transport = new Transport({
    envelope: new Envelope(device),
    outbox,
    logger: silent,
    agentVersion: 'bench',
    backfillBatch,
    session: { url, protocolVersion: 4, keepaliveS: 30, backoffMinMs: 100, backoffMaxMs: 1000 },
  });
  // The last PUBACK, seen by wrapping the session's publish (the pump awaits each one).
  let lastPuback = 0;
  const publish = transport.session.publish.bind(transport.session);
  transport.session.publish = (...a: Parameters<typeof publish>) => publish(...a).then(() => { lastPuback = performance.now(); });
  const connected = new Promise<void>((r) => transport.once('connect', () => r()));
  transport.start();
  await connected;
  let durable = 0;
  // Only once every put is durable: the birth's confirmation may arrive while the outbox is still empty.
  const emptied = new Promise<number>((resolve) => {
    transport.on('confirmed', () => {
      if (durable > 0 && outbox.totalBytes === 0) resolve(performance.now());
    });
  });
  const t0 = performance.now();
  const puts: Array<Promise<unknown>> = [];
  for (let i = 0; i < MESSAGES; i++) puts.push(transport.send('location', 'location', body(i)));
  await Promise.all(puts);
  durable = performance.now();
  const confirmed = await emptied;
  await transport.stop();
  outbox.close();
  dir.remove();
  return { confirmedMs: confirmed - t0, pubackMs: lastPuback - t0, durableMs: durable - t0, stored: counter.count(device).n };
}

interface BaseRun { pubackMs: number; stored: number; storedMs: number | undefined }

/** The same messages, published the same way by a bare client at QoS 1, pipelined; nothing durable. */
async function baseline(url: string, counter: StoredCounter, device: string, batched: boolean): Promise<BaseRun> {
  const env = new Envelope(device);
  const items = Array.from({ length: MESSAGES }, (_, i) => JSON.stringify(env.make('location', body(i))));
  const sends: Array<{ topic: string; payload: string }> = [];
  if (batched) {
    // The bytes ours sends: Transport's backfill batch.
    for (let i = 0; i < items.length; i += BATCH) {
      sends.push({ topic: deviceTopic(device, 'location', 'batch'), payload: `{"v":1,"deviceId":${JSON.stringify(device)},"backfill":true,"items":[${items.slice(i, i + BATCH).join(',')}]}` });
    }
  } else {
    for (const p of items) sends.push({ topic: deviceTopic(device, 'location'), payload: p });
  }
  const client = await mqtt.connectAsync(url, { clientId: device, protocolVersion: 4, reconnectPeriod: 0 });
  const epoch0 = Date.now();
  const t0 = performance.now();
  await Promise.all(sends.map((s) => client.publishAsync(s.topic, s.payload, { qos: 1 })));
  const pubackMs = performance.now() - t0;
  const stored = await counter.wait(device, MESSAGES);
  await client.endAsync();
  // The ingest stamps each message with its receipt time (epoch ms, same machine clock); ms resolution.
  return { pubackMs, stored: stored.n, storedMs: stored.last === undefined ? undefined : Math.max(pubackMs, stored.last - epoch0) };
}

const broker = await Mosquitto.start();
const storeDir = benchDir('nrec-bench-store-');
const ingest = await IngestProcess.start({ brokerUrl: broker.url, storeDir: storeDir.path });
const counter = new StoredCounter(storeDir.file('platform.db'));
let run = 0;
const dev = (side: string) => `bench-${side}-${run++}`;
try {
  for (const mode of MODES) {
    const batch = mode === 'batched' ? BATCH : 1;
    await baseline(broker.url, counter, dev('warm'), mode === 'batched'); // warm-up of both sides (JIT, broker, store)
    await ours(broker.url, counter, dev('warm'), batch);
    const o: OursRun[] = [];
    const b: BaseRun[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      b.push(await baseline(broker.url, counter, dev('base'), mode === 'batched'));
      o.push(await ours(broker.url, counter, dev('ours'), batch));
    }
    const short = o.find((x) => x.stored !== MESSAGES);
    if (short !== undefined) throw new Error(`ours (${mode}): the outbox emptied with ${short.stored} of ${MESSAGES} messages in the store`);
    const rate = (ms: number) => MESSAGES / (ms / 1000);
    const best = o.reduce((x, y) => (y.confirmedMs < x.confirmedMs ? y : x));
    const bestBase = b.reduce((x, y) => (y.pubackMs < x.pubackMs ? y : x));
    const oursRate = rate(best.confirmedMs);
    const baseRate = rate(bestBase.pubackMs);
    const storedAll = b.filter((x) => x.storedMs !== undefined);
    report({
      bench: 'outbox-throughput',
      mode,
      messages: MESSAGES,
      publishes: mode === 'batched' ? Math.ceil(MESSAGES / BATCH) : MESSAGES,
      rounds: ROUNDS,
      ours_msgs_per_s: round(oursRate, 0),
      ours_until_puback_msgs_per_s: round(rate(best.pubackMs), 0),
      ours_durable_ms: round(best.durableMs, 1),
      ours_puback_ms: round(best.pubackMs, 1),
      ours_confirmed_ms: round(best.confirmedMs, 1),
      baseline_msgs_per_s: round(baseRate, 0),
      baseline_stored_min: Math.min(...b.map((x) => x.stored)),
      baseline_until_stored_msgs_per_s: storedAll.length > 0 ? round(rate(Math.min(...storedAll.map((x) => x.storedMs!))), 0) : null,
      ratio: round(oursRate / baseRate, 3),
    });
  }
} finally {
  counter.close();
  await ingest.stop();
  await broker.dispose();
  storeDir.remove();
}
