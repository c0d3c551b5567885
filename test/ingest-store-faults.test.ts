// Nothing lost between the broker and the database. A store that cannot
// commit (PostgreSQL stopped, the SQLite file system turned read-only) must
// make the ingest acknowledge nothing — neither the PUBACK nor the device's
// end-to-end confirmation — so the messages wait (on the device, and at the
// broker) until a commit works; then each is stored exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { PostgresStore } from '../platform/store/index.js';
import { DEVICE_STREAMS } from '../protocol/index.js';
import { Cleanup, cliPath, freePort, Mosquitto, World, waitFor } from './support/index.js';
import { LoopFs } from './support/loop-fs.js';
import { PostgresCluster } from './support/postgres.js';
import { checkStore, checkStream, outboxCount, type StoredMsg } from './support/store-check.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger whose lines the test can read (the ingest runs in-process here). */
function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  return { lines, logger: createLogger('test', { level: 'warn', destination: sink }) };
}

const busy = { gps: { displacementM: 1, minIntervalS: 0, intervalS: 1 }, transport: { confirmTimeoutS: 2, confirmTimeoutMaxS: 4 } };

describe('the store fails under a running ingest', () => {
  it('PostgreSQL stopped for 20 s: nothing is acknowledged meanwhile, and afterwards every message is stored once', async () => {
    const pg = cleanup.add(await PostgresCluster.start(), (c) => c.dispose());
    const db = await pg.createDatabase();
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const { lines, logger } = capturingLogger();
    const world = cleanup.add(await World.create({ logger, brokerUrl: broker.url, db, gpsIntervalMs: 200, gpsSpeedMps: 30, agentConfig: busy }), (w) => w.close());
    const dataDir = String(world.agentConfig.dataDir);
    await waitFor('live locations', () => (world.ingest.stats.accepted.location ?? 0) >= 5, 30_000);

    await pg.stop();
    const storedBefore = world.ingest.stats.accepted.location ?? 0;
    await sleep(20_000); // the outage is the scenario
    expect(world.ingest.stats.accepted.location ?? 0, 'nothing stored (or confirmed) while the database is down').toBe(storedBefore);
    expect(outboxCount(dataDir), 'the device keeps what the platform could not store').toBeGreaterThan(50);
    expect(lines.some((l) => l.includes('STORE FAILING')), 'the ingest says so, loudly').toBe(true);
    await pg.restart();
    world.feed.stop();
    await waitFor('the device outbox to drain', () => outboxCount(dataDir) === 0 || undefined, 90_000, 200);

    const store = cleanup.add(await PostgresStore.open(db), (s) => s.close());
    const streams = new Map<string, StoredMsg[]>();
    for (const s of DEVICE_STREAMS) streams.set(s, (await store.messages(world.deviceId, s)).map((r) => r.m as unknown as StoredMsg));
    checkStream(streams);
    expect(streams.get('location')!.length).toBeGreaterThan(100);
    expect(lines.some((l) => l.includes('store works again'))).toBe(true);
  }, 180_000);

  it('the SQLite file system turns read-only: nothing is acknowledged; after repair and a restart of the ingest every message is stored once', async () => {
    const fs = cleanup.add(await LoopFs.create(64), (f) => f.dispose());
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const { lines, logger } = capturingLogger();
    const world = cleanup.add(await World.create({ logger, brokerUrl: broker.url, storeDir: join(fs.path, 'store'), gpsIntervalMs: 200, gpsSpeedMps: 30, agentConfig: busy }), (w) => w.close());
    const dataDir = String(world.agentConfig.dataDir);
    await waitFor('live locations', () => (world.ingest.stats.accepted.location ?? 0) >= 5, 30_000);

    fs.failReadOnly();
    await waitFor('the ingest to notice', () => lines.some((l) => l.includes('STORE FAILING')) || undefined, 20_000);
    const storedBefore = world.ingest.stats.accepted.location ?? 0;
    await sleep(5000); // the fault is the scenario
    expect(world.ingest.stats.accepted.location ?? 0).toBe(storedBefore);
    expect(outboxCount(dataDir)).toBeGreaterThan(10);
    // The operator's fix: stop the ingest, check and remount the file system, start it again.
    await world.stopIngest().catch(() => undefined);
    fs.repair();
    await world.startIngest();
    world.feed.stop();
    await waitFor('the device outbox to drain', () => outboxCount(dataDir) === 0 || undefined, 90_000, 200);
    const streams = checkStore(world.storeDir, world.deviceId);
    expect(streams.get('location')!.length).toBeGreaterThan(30);
  }, 180_000);

  it('an ingest started before Mosquitto, and Mosquitto killed with -9 mid-run: everything published while the ingest was away is stored exactly once', async () => {
    const port = await freePort();
    const brokerUrl = `mqtt://127.0.0.1:${port}`;
    const logger = createLogger('test', { level: 'warn' });
    const world = cleanup.add(await World.create({ logger, brokerUrl, ingest: false, gpsIntervalMs: 200, gpsSpeedMps: 30, agentConfig: busy }), (w) => w.close());
    let out = '';
    const ingest: ChildProcess = spawn(process.execPath, [cliPath(), 'ingest', '--broker', brokerUrl, '--store', world.storeDir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NREC_LOG_LEVEL: 'warn' } });
    cleanup.add(ingest, (c) => c.kill('SIGKILL'));
    ingest.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await sleep(1000); // the agent and the ingest both try a broker that is not there yet
    const broker = cleanup.add(await Mosquitto.start({ port }), (m) => m.dispose());
    await waitFor('the ingest connected and subscribed', () => out.includes('"ready":true') || undefined, 20_000);
    const dataDir = String(world.agentConfig.dataDir);
    await waitFor('locations stored', () => checkStore(world.storeDir, world.deviceId).get('location')!.length >= 5 || undefined, 30_000, 200);
    await broker.kill9();
    await sleep(2000);
    await broker.start();
    await sleep(3000);
    world.feed.stop();
    await waitFor('the device outbox to drain', () => outboxCount(dataDir) === 0 || undefined, 90_000, 200);
    expect(ingest.exitCode, 'the ingest kept running through the broker restart').toBeNull();
    const streams = checkStore(world.storeDir, world.deviceId);
    expect(streams.get('location')!.length).toBeGreaterThan(20);
  }, 120_000);
});
