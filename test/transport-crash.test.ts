// Crash safety of the durable transport: the agent publishes continuously
// (a GPS epoch every 100 ms, every fix reported: the simulated wearer moves 6 m per epoch) and is killed with SIGKILL
// 20 times at random moments, restarted each time on the same data dir.
//
// What is provable, and asserted:
//  1. Durable means delivered. After each kill the outbox database is read
//     (the process is dead, so the file is exactly what the next boot finds):
//     every message id in it must reach the ingest by the end.
//  2. Exactly once in the store: no message id appears twice in the ingest's
//     store. The ingest deduplicates, so its duplicate counter is also
//     bounded: a duplicate can only be a row that was still in the outbox when
//     a process died (sent, but its PUBACK or DELETE not done), so
//     duplicates <= the sum over kills of rows left in the outbox.
//  3. No holes except a tail. `seq` is assigned (Envelope.make) just before the
//     put, and puts commit in the order they were made, so what a kill can lose
//     is only the not-yet-committed end of a boot's sequence. So for every
//     (bootId, stream) the stored seqs are exactly 0..k. The status stream is
//     excluded: births and wills are published directly (not through the
//     outbox) and a will's seq is consumed at each connect attempt, published
//     only if that connection dies.
//  4. Order within a boot: for each (bootId, stream) the seqs in file order
//     (first receipt) strictly increase. A boot's leftovers are sent by a later
//     process in row order before it gets to its own rows of that lane, so
//     across boots the interleaving is not constrained and not asserted.
//     (Status again excluded: a will is made before, but published after, the
//     birth of the same connection.)
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_STREAMS } from '../protocol/index.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { LinkProxy } from '../simulator/link/index.js';
import { Cleanup, Mosquitto, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const KILLS = 20;

interface Stored { id: string; bootId: string; seq: number; alarmId?: string; state?: string }

/** Message ids in the outbox database (read-only; call it while no agent runs, or for a snapshot). */
function outboxIds(dbPath: string): string[] {
  if (!existsSync(dbPath)) return [];
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { msg_id: string }>('SELECT msg_id FROM outbox ORDER BY row_id').all().map((r) => r.msg_id);
  } finally {
    db.close();
  }
}

/** Every stored message of the device, per stream, in receipt order. */
function readAll(storeDir: string, deviceId: string): Map<string, Stored[]> {
  const out = new Map<string, Stored[]>();
  for (const stream of DEVICE_STREAMS) {
    const msgs = readStream<Stored>(storeDir, deviceId, stream).map((r) => r.m);
    if (msgs.length > 0) out.set(stream, msgs);
  }
  return out;
}

const randomDelay = () => 200 + Math.floor(Math.random() * 1300);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('transport under kill -9', () => {
  let mosquitto: Mosquitto;
  beforeAll(async () => {
    mosquitto = await Mosquitto.start();
    return () => mosquitto.dispose();
  });

  it(`loses nothing durable and stores nothing twice across ${KILLS} random kill -9`, async () => {
    // A link with latency between agent and broker (the ingest connects directly), so a
    // kill catches messages queued and in flight rather than an outbox that localhost keeps empty.
    const link = cleanup.add(await LinkProxy.start({ host: '127.0.0.1', port: mosquitto.port }, { latencyMs: 60 }), (l) => l.close());
    const world = cleanup.add(
      await World.create({
        // 6 m per 100 ms epoch, past the fix's own accuracy (4.6 m): every fix is a report.
        logger, brokerUrl: mosquitto.url, gpsIntervalMs: 100, gpsSpeedMps: 60,
        agentConfig: { gps: { displacementM: 1, minIntervalS: 0, intervalS: 1 }, mqtt: { url: link.url } },
      }),
      (w) => w.close(),
    );
    const dbPath = join(String(world.agentConfig.dataDir), 'outbox.db');
    const durable = new Set<string>();
    let leftAtKills = 0;
    let alarmId: string | undefined;

    for (let k = 0; k < KILLS; k++) {
      const pid = world.agent.pid;
      // Lines of this process only: the agent's line buffer spans restarts.
      await world.agent.waitForLine(new RegExp(`"pid":${pid},.*"msg":"agent ready"`));
      if (k === 5) {
        // One SOS, held while this process runs; wait until the agent took it.
        await world.agent.waitForLine(new RegExp(`"pid":${pid},.*sysfs watching button line`));
        await world.pressSos(2000);
        const raised = await world.agent.waitForLine(new RegExp(`"pid":${pid},.*"msg":"SOS raised"`));
        alarmId = (JSON.parse(raised) as { alarmId: string }).alarmId;
      }
      await sleep(randomDelay()); // a random moment in a busy process is the point of the test
      await world.agent.kill9();
      const left = outboxIds(dbPath);
      leftAtKills += left.length;
      for (const id of left) durable.add(id);
      world.agent.spawn();
    }

    // Final run: let the feed go on a little, then stop it and drain.
    const pid = world.agent.pid;
    await world.agent.waitForLine(new RegExp(`"pid":${pid},.*"msg":"connected"`));
    world.feed.stop();
    await waitFor('the outbox to drain', () => {
      const ids = outboxIds(dbPath);
      return ids.length === 0 || undefined;
    }, 60_000, 100);
    // Everything left in the outbox at any kill must have arrived.
    await waitFor('every durable message at the ingest', () => {
      const all = new Set([...readAll(world.storeDir, world.deviceId).values()].flat().map((m) => m.id));
      return [...durable].every((id) => all.has(id)) || undefined;
    }, 20_000, 100).catch(() => undefined);

    const streams = readAll(world.storeDir, world.deviceId);
    const all = [...streams.values()].flat();

    // 1. durable ⇒ delivered
    const storedIds = new Set(all.map((m) => m.id));
    const missing = [...durable].filter((id) => !storedIds.has(id));
    expect(missing, `messages that were durably in the outbox at a kill but never arrived`).toEqual([]);
    expect(durable.size, 'the kills should have caught messages in the outbox').toBeGreaterThan(0);

    // 2. exactly once
    const counts = new Map<string, number>();
    for (const m of all) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1), 'ids stored more than once').toEqual([]);
    expect(world.ingest.stats.duplicates).toBeLessThanOrEqual(leftAtKills);

    // 3. no holes but a tail, 4. order within a boot
    const boots = new Set<string>();
    for (const [stream, msgs] of streams) {
      if (stream === 'status') continue;
      const byBoot = new Map<string, number[]>();
      for (const m of msgs) {
        boots.add(m.bootId);
        const seqs = byBoot.get(m.bootId) ?? [];
        seqs.push(m.seq);
        byBoot.set(m.bootId, seqs);
      }
      for (const [bootId, seqs] of byBoot) {
        const sorted = [...seqs].sort((a, b) => a - b);
        expect(sorted, `${stream} of boot ${bootId}: stored seqs must be 0..${sorted.length - 1} (a hole means a durable message was lost)`)
          .toEqual(sorted.map((_, i) => i));
        expect(seqs, `${stream} of boot ${bootId}: seqs out of order in the store`).toEqual(sorted);
      }
    }
    const locations = streams.get('location') ?? [];
    expect(boots.size, 'messages from every boot (20 killed + the last)').toBeGreaterThanOrEqual(KILLS);
    expect(locations.length).toBeGreaterThan(KILLS * 3);

    // The SOS pressed once arrived (raised, possibly re-sent with rising escalation).
    const alarms = streams.get('alarm') ?? [];
    expect(alarmId).toBeDefined();
    expect(alarms.some((a) => a.alarmId === alarmId && a.state === 'raised'), `SOS ${alarmId} not stored; alarms: ${JSON.stringify(alarms)}`).toBe(true);
    expect(world.agent.running).toBe(true);
  });
});
