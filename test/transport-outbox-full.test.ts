// The outbox at its smallest allowed capacity (64 KiB) while the broker is
// down and the GPS produces a location every 50 ms: the outbox must thin the
// queued track (first, last and every Nth kept) to make room, report it with a
// `storage` event, and never touch the SOS raised meanwhile. When the broker is
// back, the ingest shows all three: the event, the thinned track (its holes
// visible as seq gaps) and the alarm.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, Mosquitto, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const CAPACITY = 65_536;

interface Loc { id: string; seq: number; bootId: string; fix: { time: number } }
interface Ev { id: string; seq: number; kind: string; data?: { cumulative?: Record<string, { count: number; bytes: number }> } }

/** Locations thinned since boot, as a storage report counts them. */
function cumulativeThinned(e: Ev): number {
  return e.data?.cumulative?.['location:thinned']?.count ?? 0;
}
interface Alarm { id: string; seq: number; alarmId: string; state: string }

/** Runs `f` on the agent's outbox database opened read-only. */
function withOutbox<T>(dbPath: string, f: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/** Sorted seqs missing between 0 and the highest stored one. */
function holes(seqs: number[]): number[] {
  const have = new Set(seqs);
  const out: number[] = [];
  for (let s = 0; s <= Math.max(...seqs); s++) if (!have.has(s)) out.push(s);
  return out;
}

describe('outbox full while the broker is down', () => {
  let mosquitto: Mosquitto;
  beforeAll(async () => {
    mosquitto = await Mosquitto.start();
    return () => mosquitto.dispose();
  });

  it('thins locations (first and last kept), reports storage, and never evicts the alarm', async () => {
    const world = cleanup.add(
      await World.create({
        // 6 m per 50 ms epoch, past the fix's own accuracy (4.6 m): every fix is a report.
        logger, brokerUrl: mosquitto.url, gpsIntervalMs: 50, gpsSpeedMps: 120, autoFeed: false,
        agentConfig: { gps: { displacementM: 1, minIntervalS: 0, intervalS: 1 }, transport: { outboxCapacityBytes: CAPACITY } },
      }),
      (w) => w.close(),
    );
    const dbPath = join(String(world.agentConfig.dataDir), 'outbox.db');
    await waitFor('agent birth', () => world.ingest.stats.accepted.status);
    await world.agent.waitForLine('sysfs watching button line');

    await mosquitto.stop();
    await world.agent.waitForLine('"msg":"disconnected"');
    world.feed.start();
    await world.pressSos(2000);
    const raised = await world.agent.waitForLine('"msg":"SOS raised"');
    const alarmId = (JSON.parse(raised) as { alarmId: string }).alarmId;
    // Produce until the outbox has thinned the track and said so: storage reports carry cumulative
    // counts since boot and travel on the alarm lane (never evicted), coalesced to one per 5 s.
    const thinnedSoFar = () => {
      const rows = withOutbox(dbPath, (db) => db.prepare<[], { p: string }>(
        `SELECT CAST(payload AS TEXT) AS p FROM outbox WHERE lane = 'alarm' AND CAST(payload AS TEXT) LIKE '%"kind":"storage"%'`).all());
      return Math.max(0, ...rows.map((r) => cumulativeThinned(JSON.parse(r.p) as Ev)));
    };
    await waitFor('a storage report of thinned locations', () => thinnedSoFar() > 0 || undefined, 60_000, 100);
    world.feed.stop();
    // The last epoch is flushed after the receiver's idle gap; wait until its location is stored.
    const lastSent = world.feed.sent.at(-1)!;
    const queuedLast = () => withOutbox(dbPath, (db) =>
      db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM outbox WHERE lane = 'location' AND CAST(payload AS TEXT) LIKE ?`).get(`%"time":${lastSent.time},%`)!.n > 0);
    await waitFor('the last location in the outbox', () => queuedLast() || undefined, 10_000, 50);
    const stored = withOutbox(dbPath, (db) => db.prepare<[], { b: number }>('SELECT total(bytes) AS b FROM outbox').get()!.b);
    expect(stored, 'bytes queued (alarms may exceed capacity; nothing here is an alarm but a few)').toBeLessThanOrEqual(CAPACITY + 4096);

    await mosquitto.restart();
    await waitFor('the outbox to drain', () => withOutbox(dbPath, (db) => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox').get()!.n === 0) || undefined, 30_000, 100);
    const locations = () => readStream<Loc>(world.storeDir, world.deviceId, 'location').map((r) => r.m);
    await waitFor('the last location at the ingest', () => locations().some((l) => l.fix.time === lastSent.time) || undefined, 10_000);

    // The storage reports: the newest one's cumulative count covers every thinned location.
    const storage = () => readStream<Ev>(world.storeDir, world.deviceId, 'event').map((r) => r.m).filter((e) => e.kind === 'storage');
    // The thinned track: gaps in seq, first and last kept, every reported drop visible as a hole.
    const locs = locations();
    const seqs = locs.map((l) => l.seq);
    expect(new Set(locs.map((l) => l.bootId)).size).toBe(1);
    expect(new Set(seqs).size).toBe(seqs.length);
    const gaps = holes(seqs);
    expect(gaps.length, 'seq gaps left by thinning').toBeGreaterThan(0);
    // Every dropped location is a hole, and every hole is counted by the newest storage report.
    await waitFor(`a storage report counting all ${gaps.length} thinned locations`, () => Math.max(0, ...storage().map(cumulativeThinned)) === gaps.length || undefined, 15_000);
    // The newest location queued during the outage (the feed's last point) survived every pass.
    expect(locs.some((l) => l.fix.time === lastSent.time), 'the last location queued is kept').toBe(true);
    // The feed started during the outage, so every location of this boot queued: the first one (seq 0) survives every pass.
    expect(seqs, 'the first location made is kept').toContain(0);

    // Alarms are never evicted: the SOS arrived and the alarm stream has no holes.
    const alarms = readStream<Alarm>(world.storeDir, world.deviceId, 'alarm').map((r) => r.m);
    expect(alarms.some((a) => a.alarmId === alarmId && a.state === 'raised')).toBe(true);
    expect(holes(alarms.map((a) => a.seq))).toEqual([]);
    expect(world.ingest.stats.rejected).toBe(0);
  });
});
