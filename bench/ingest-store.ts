// How many messages per second does one ingest worker store, from Mosquitto
// into SQLite and into PostgreSQL, next to a minimal loop inserting the same
// messages straight into the database?
//
// Ours: one Ingest (this process: its event loop is the worker's), Mosquitto
// with its default settings (max_inflight_messages 20, max_queued_messages
// 1000), the store on a real disk: SQLite (WAL, synchronous=FULL) or a
// PostgreSQL cluster of its own (server defaults: fsync on, synchronous_commit
// on). Publishers: DEVICES device clients in a child process publishing live
// location messages (one JSON message each, QoS 1) in parallel, each keeping
// up to WINDOW messages unconfirmed end to end and re-sending what stays
// unconfirmed for RESEND_MS, as the agent does. Enough must be outstanding
// that the broker always has messages waiting for the ingest (the ingest is
// then the limit, not the publishers: fewer outstanding, e.g. 10 × 50, gave
// ~11k msg/s, bound by the round trip through the confirmation), and not so
// many that Mosquitto's queue for the ingest's session overflows: it drops
// silently beyond it, the devices re-send after their timeout, and the run
// measures the timeout (publishers_resends counts it; 30 × 30 = 900
// outstanding already overflowed it here). Default 20 × 40. Timed from the
// publishers' start until the last message is stored; every message is
// checked in the store.
//
// Baseline: the same messages inserted by a minimal loop with better-sqlite3
// or pg and no MQTT: per batch, JSON.parse each message, one multi-row INSERT
// into `messages` and one into `positions` (the rows our store writes for a
// location: same tables, keys and indexes, ON CONFLICT DO NOTHING, which any
// at-least-once consumer needs), in one transaction with the same durability,
// batches of the mean size the ingest committed in the same run. That is the
// fair loop: one INSERT per message in its own transaction would measure
// fsyncs, not a design, and larger batches than the ingest gets would compare
// batch sizes, not the work per batch. What it leaves out, ours does: MQTT,
// validation, the device summary row, confirmations and PUBACKs.
//
// Goal: ours ≥ 0.5 of the baseline, and ≥ 5,000 msg/s into PostgreSQL.
// DEVICES (default 20), PER_DEVICE (2250), WINDOW (40), RESEND_MS (3000),
// BACKENDS (sqlite,postgres), MQTT5=1 to run the ingest on MQTT 5, MOSQUITTO_CONF
// to add broker settings (diagnosis only: the figures use the defaults).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createLogger } from '../lib/logger.js';
import { Ingest } from '../platform/ingest/index.js';
import { openStore } from '../platform/store/index.js';
import type { IngestStore } from '../platform/store/types.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { PostgresCluster } from '../test/support/postgres.js';
import { benchDir, realDisk, type BenchDir } from './_disk.js';
import { fleet, locationMessages } from './_locations.js';
import { report, round } from './_report.js';

const DEVICES = Number(process.env.DEVICES ?? 20);
const PER_DEVICE = Number(process.env.PER_DEVICE ?? 2250);
const WINDOW = Number(process.env.WINDOW ?? 40);
const BACKENDS = (process.env.BACKENDS ?? 'sqlite,postgres').split(',') as Array<'sqlite' | 'postgres'>;
const PROTOCOL: 4 | 5 = process.env.MQTT5 === '1' ? 5 : 4;
const TOTAL = DEVICES * PER_DEVICE;
const silent = createLogger('bench', { level: 'silent' });
const ingestLog = createLogger('ingest', { level: process.env.NREC_LOG_LEVEL ?? 'warn', destination: process.stderr });
const STALL_MS = 15_000;
const RESEND_MS = Number(process.env.RESEND_MS ?? 3000);
const here = dirname(fileURLToPath(import.meta.url));

/** The store with its commits counted (batch sizes), nothing else changed. */
function counted(store: IngestStore, sizes: number[]): IngestStore {
  const commit = store.commit.bind(store);
  store.commit = (accepted, rejected) => {
    if (accepted.length > 0) sizes.push(accepted.length);
    return commit(accepted, rejected);
  };
  return store;
}

interface PublisherTotals { confirmedMs: number; windowFullShare: number; cpuMs: number; resends: number }

/** Starts the publishers' process; resolves once they are connected, with a function that starts them. */
async function publishers(url: string): Promise<{ go: () => Promise<PublisherTotals> }> {
  const child = spawn(process.execPath, [join(here, '_ingest-publishers.js'), JSON.stringify({ url, devices: DEVICES, perDevice: PER_DEVICE, window: WINDOW, resendMs: RESEND_MS })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  const lines = createInterface({ input: child.stdout! });
  const next = () => new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`publishers exited (${code})`));
    child.once('exit', onExit);
    lines.once('line', (l) => {
      child.off('exit', onExit);
      resolve(l);
    });
  });
  if ((await next()) !== 'ready') throw new Error('publishers did not start');
  return {
    go: async () => {
      const done = next();
      child.stdin!.write('go\n');
      const totals = JSON.parse(await done) as PublisherTotals;
      await new Promise((r) => child.once('exit', r));
      process.off('exit', orphan);
      return totals;
    },
  };
}

interface OursRun { perS: number; meanBatch: number; commits: number; publishers: PublisherTotals; loopBusy: number; cpuShare: number }

async function runOurs(broker: Mosquitto, db: string, dir: BenchDir): Promise<OursRun> {
  const sizes: number[] = [];
  const store = counted(await openStore(db, { logger: silent }), sizes);
  const ingest = await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, store, logger: ingestLog, protocolVersion: PROTOCOL });
  let stored = 0;
  let last = 0;
  let watchdog: NodeJS.Timeout | undefined;
  const all = new Promise<void>((resolve, reject) => {
    ingest.on('stored', (_d, stream) => {
      if (stream !== 'location') return;
      last = performance.now();
      if (++stored === TOTAL) resolve();
    });
    // Nothing stored for this long: a message was lost on the way (the publishers do not re-send).
    watchdog = setInterval(() => {
      if (last > 0 && performance.now() - last > STALL_MS) {
        const log = join(tmpdir(), 'nrec-bench-ingest-store-mosquitto.log');
        writeFileSync(log, broker.log);
        reject(new Error(`stalled: ${stored} of ${TOTAL} stored, nothing for ${STALL_MS / 1000} s; ingest stats ${JSON.stringify(ingest.stats)}; broker log in ${log}`));
      }
    }, 1000);
  });
  try {
    await ingest.start();
    const p = await publishers(broker.url);
    const t0 = performance.now();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const totals = p.go();
    await all;
    const elapsed = last - t0;
    // How busy the worker was: its event loop (a SQLite commit holds it, fsync included) and its CPU.
    const loopBusy = performance.eventLoopUtilization(elu0).utilization;
    const cpu = process.cpuUsage(cpu0);
    const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    const pub = await totals;
    const commits = sizes.length;
    return { perS: TOTAL / (elapsed / 1000), meanBatch: sizes.reduce((a, b) => a + b, 0) / commits, commits, publishers: pub, loopBusy, cpuShare };
  } finally {
    clearInterval(watchdog);
    await ingest.stop();
  }
}

/** Location messages in a store, by its URL (a SQLite path or postgres://). */
async function countStored(db: string): Promise<number> {
  const sql = "SELECT count(*) AS n FROM messages WHERE stream = 'location'";
  if (!db.startsWith('postgres')) {
    const d = new Database(db, { readonly: true });
    try {
      return (d.prepare(sql).get() as { n: number }).n;
    } finally {
      d.close();
    }
  }
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    return Number((await client.query(sql)).rows[0].n);
  } finally {
    await client.end();
  }
}

/** The messages as they would arrive: devices interleaved. */
function arrivalOrder(): string[] {
  const per = fleet(DEVICES).map((d) => locationMessages(d.deviceId, d.bootId, PER_DEVICE));
  const out: string[] = [];
  for (let i = 0; i < PER_DEVICE; i++) for (const m of per) out.push(m[i]);
  return out;
}

interface Loc {
  id: string; deviceId: string; bootId: string; seq: number; ts: number;
  fix: { lat: number; lon: number; time: number; fixType: string; altM?: number; speedMps?: number; courseDeg?: number; accuracyM?: number; satsUsed?: number };
  reason?: string;
}

const MSG_COLS = ['device_id', 'id', 'stream', 'topic', 'rx', 'boot_id', 'seq', 'ts', 'body'];
const POS_COLS = ['device_id', 'msg_id', 'fix_time', 'rx', 'ts', 'lat', 'lon', 'alt_m', 'speed_mps', 'course_deg', 'accuracy_m', 'fix_type', 'sats_used', 'clock', 'stale', 'reason', 'backfill'];

function rows(batch: readonly string[], rx: number, bool: (b: boolean) => unknown) {
  const msgs: unknown[] = [];
  const pos: unknown[] = [];
  for (const text of batch) {
    const m = JSON.parse(text) as Loc;
    const f = m.fix;
    msgs.push(m.deviceId, m.id, 'location', `nrec/v1/${m.deviceId}/location`, rx, m.bootId, m.seq, m.ts, text);
    pos.push(m.deviceId, m.id, f.time, rx, m.ts, f.lat, f.lon, f.altM ?? null, f.speedMps ?? null, f.courseDeg ?? null, f.accuracyM ?? null, f.fixType, f.satsUsed ?? null, null, bool(false), m.reason ?? null, bool(false));
  }
  return { msgs, pos };
}

/** better-sqlite3, same pragmas as the store (WAL, synchronous=FULL). */
function baselineSqlite(path: string, messages: readonly string[], batch: number): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const stmts = new Map<number, { m: Database.Statement; p: Database.Statement }>();
  const prepared = (n: number) => {
    let s = stmts.get(n);
    if (s === undefined) {
      const values = (cols: string[]) => Array.from({ length: n }, () => `(${cols.map(() => '?').join(', ')})`).join(', ');
      s = {
        m: db.prepare(`INSERT INTO messages (${MSG_COLS.join(', ')}) VALUES ${values(MSG_COLS)} ON CONFLICT DO NOTHING`),
        p: db.prepare(`INSERT INTO positions (${POS_COLS.join(', ')}) VALUES ${values(POS_COLS)} ON CONFLICT DO NOTHING`),
      };
      stmts.set(n, s);
    }
    return s;
  };
  const write = db.transaction((b: string[]) => {
    const { msgs, pos } = rows(b, Date.now(), (x) => (x ? 1 : 0));
    const st = prepared(b.length);
    st.m.run(msgs);
    st.p.run(pos);
  });
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += batch) write.immediate(messages.slice(i, i + batch));
  const elapsed = performance.now() - t0;
  const n = (db.prepare("SELECT count(*) AS n FROM messages WHERE stream = 'location'").get() as { n: number }).n;
  db.close();
  if (n !== messages.length) throw new Error(`baseline stored ${n} of ${messages.length}`);
  return messages.length / (elapsed / 1000);
}

/** pg, one client, server defaults (synchronous_commit on). */
async function baselinePostgres(url: string, messages: readonly string[], batch: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const values = (cols: string[], n: number, extra = '') => Array.from({ length: n }, (_, r) => `(${cols.map((_, c) => `$${r * cols.length + c + 1}`).join(', ')}${extra})`).join(', ');
    let n = 0;
    const t0 = performance.now();
    for (let i = 0; i < messages.length; i += batch) {
      const b = messages.slice(i, i + batch);
      const { msgs, pos } = rows(b, Date.now(), (x) => x);
      // `n` (arrival order) is NOT NULL in this schema; a running counter, as the loop would keep.
      const withN: unknown[] = [];
      for (let r = 0; r < b.length; r++) withN.push(...msgs.slice(r * MSG_COLS.length, (r + 1) * MSG_COLS.length), n++);
      await client.query('BEGIN');
      await client.query(`INSERT INTO messages (${MSG_COLS.join(', ')}, n) VALUES ${values([...MSG_COLS, 'n'], b.length)} ON CONFLICT DO NOTHING`, withN);
      await client.query(`INSERT INTO positions (${POS_COLS.join(', ')}) VALUES ${values(POS_COLS, b.length)} ON CONFLICT DO NOTHING`, pos);
      await client.query('COMMIT');
    }
    const elapsed = performance.now() - t0;
    const stored = Number((await client.query("SELECT count(*) AS n FROM messages WHERE stream = 'location'")).rows[0].n);
    if (stored !== messages.length) throw new Error(`baseline stored ${stored} of ${messages.length}`);
    return messages.length / (elapsed / 1000);
  } finally {
    await client.end();
  }
}

// MOSQUITTO_CONF: extra broker config lines (\n-separated), to diagnose what limits; the figures use the defaults.
const broker = await Mosquitto.start({ extraConfig: (process.env.MOSQUITTO_CONF ?? '').replaceAll('\\n', '\n') });
let cluster: PostgresCluster | undefined;
const messages = arrivalOrder();
try {
  for (const backend of BACKENDS) {
    const dir = benchDir(`nrec-bench-ingest-${backend}-`);
    try {
      let dbOurs: string;
      let dbBase: string;
      if (backend === 'postgres') {
        cluster ??= await PostgresCluster.start();
        process.stderr.write(`postgres: cluster in ${cluster.dataDir} (${realDisk(cluster.dataDir, 'set TMPDIR to a directory on a real disk (the cluster is made under it)')})\n`);
        dbOurs = await cluster.createDatabase('ours');
        dbBase = await cluster.createDatabase('baseline');
      } else {
        dbOurs = dir.file('ours.db');
        dbBase = dir.file('baseline.db');
      }
      const ours = await runOurs(broker, dbOurs, dir);
      const inStore = await countStored(dbOurs);
      if (inStore !== TOTAL) throw new Error(`the store holds ${inStore} location messages, expected ${TOTAL}`);
      // The baseline's tables: the same schema, made by the store's own migrations.
      await (await openStore(dbBase, { logger: silent })).close();
      const batch = Math.max(1, Math.round(ours.meanBatch));
      const base = backend === 'sqlite' ? baselineSqlite(dbBase, messages, batch) : await baselinePostgres(dbBase, messages, batch);
      report({
        bench: 'ingest-store',
        backend,
        messages: TOTAL,
        devices: DEVICES,
        window_per_device: WINDOW,
        mqtt: PROTOCOL === 5 ? '5' : '3.1.1',
        ...(process.env.MOSQUITTO_CONF ? { mosquitto_conf: process.env.MOSQUITTO_CONF } : {}),
        ours_msgs_per_s: round(ours.perS, 0),
        ours_commits: ours.commits,
        ours_mean_batch: round(ours.meanBatch, 1),
        ours_loop_busy_share: round(ours.loopBusy, 3),
        ours_cpu_share: round(ours.cpuShare, 3),
        publishers_window_full_share: round(ours.publishers.windowFullShare, 3),
        publishers_cpu_ms: round(ours.publishers.cpuMs, 0),
        // Messages the broker acknowledged and then dropped (its queue limit for the ingest), sent again.
        publishers_resends: ours.publishers.resends,
        baseline_msgs_per_s: round(base, 0),
        baseline_batch: batch,
        ratio: round(ours.perS / base, 3),
      });
    } finally {
      dir.remove();
    }
  }
} finally {
  await cluster?.dispose();
  await broker.dispose();
}
