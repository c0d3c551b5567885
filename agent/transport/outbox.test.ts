import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../../test/support/temp.js';
import { LANES, Outbox, type EvictedEvent, type Lane, type OutboxInput } from './outbox.js';

let dir: TempDir;
const open: Outbox[] = [];
beforeEach(async () => {
  dir = await makeTempDir('nrec-outbox-');
});
afterEach(async () => {
  for (const o of open.splice(0)) o.close();
  await dir.remove();
});

function openOutbox(opts: Parameters<typeof Outbox.open>[1] = {}): Outbox {
  const o = Outbox.open(dir.file('outbox.db'), opts);
  open.push(o);
  return o;
}
function reopen(o: Outbox, opts: Parameters<typeof Outbox.open>[1] = {}): Outbox {
  o.close();
  return openOutbox(opts);
}
let n = 0;
function msg(lane: Lane, size = 10, extra: Partial<OutboxInput> = {}): OutboxInput {
  n++;
  return { lane, topic: `t/${lane}`, payload: Buffer.alloc(size, n % 256), msgId: `${lane}-${n}`, ...extra };
}
/** Bytes a message of `size` payload bytes counts against capacity. */
const cost = (lane: Lane, size: number) => size + `t/${lane}`.length;
const ids = (es: Array<{ msgId: string }>) => es.map((e) => e.msgId);

describe('Outbox', () => {
  it('keeps every unacknowledged message across close and reopen, with all fields', async () => {
    let o = openOutbox();
    const a = await o.put(msg('alarm', 5, { retain: true }));
    const l = await o.put(msg('location', 7));
    expect(a).toMatchObject({ lane: 'alarm', retain: true, bytes: cost('alarm', 5) });
    expect(l).toMatchObject({ retain: false });
    o = reopen(o);
    expect(o.totalBytes).toBe(cost('alarm', 5) + cost('location', 7));
    const [back] = o.take('alarm', 10);
    expect(back).toEqual(a);
    expect(ids(o.take('location', 10))).toEqual([l.msgId]);
  });

  it('commits puts with synchronous=FULL from the first one, acknowledgements with NORMAL', async () => {
    // A prepared PRAGMA applies when prepared, not when run: the outbox once ran its first puts
    // (until the first acknowledgement) without an fsync. test/power-cut.test.ts found it.
    const o = openOutbox();
    expect(o.synchronousLevel, 'as opened').toBe(2);
    const a = await o.put(msg('result'));
    expect(o.synchronousLevel, 'after the first put').toBe(2);
    o.take('result', 1);
    o.ack([a.rowId]);
    await new Promise((r) => setImmediate(r));
    expect(o.synchronousLevel, 'after an acknowledgement').toBe(1);
    await o.put(msg('result'));
    expect(o.synchronousLevel, 'after the next put').toBe(2);
  });

  it('hands out each lane in FIFO order and skips what is in flight', async () => {
    const o = openOutbox();
    const put = await Promise.all([...Array(6)].map((_, i) => o.put(msg(i % 2 === 0 ? 'location' : 'status'))));
    const locs = put.filter((e) => e.lane === 'location');
    expect(ids(o.take('location', 2))).toEqual(ids(locs.slice(0, 2)));
    expect(ids(o.take('location', 2))).toEqual(ids(locs.slice(2)));
    expect(o.has('location')).toBe(false);
    expect(o.has('status')).toBe(true);
    expect(o.stats().location).toMatchObject({ count: 3, inFlight: 3 });
  });

  it('release puts entries back in their original order; releaseAll returns everything', async () => {
    const o = openOutbox();
    const put = await Promise.all([...Array(5)].map(() => o.put(msg('result'))));
    const taken = o.take('result', 3);
    o.release([taken[1].rowId]);
    expect(ids(o.take('result', 5))).toEqual(ids([put[1], put[3], put[4]]));
    o.releaseAll();
    expect(ids(o.take('result', 10))).toEqual(ids(put));
  });

  it('maxBytes limits a take but always yields the first entry', async () => {
    const o = openOutbox();
    await Promise.all([o.put(msg('location', 100)), o.put(msg('location', 10)), o.put(msg('location', 10))]);
    expect(o.take('location', 10, 50)).toHaveLength(1);
    expect(o.take('location', 10, cost('location', 10))).toHaveLength(1);
    expect(o.take('location', 10)).toHaveLength(1);
  });

  it('ack deletes durably; ack of unknown or repeated ids is harmless', async () => {
    let o = openOutbox();
    const put = await Promise.all([...Array(4)].map(() => o.put(msg('location'))));
    const taken = o.take('location', 2);
    o.ack(taken.map((e) => e.rowId));
    o.ack([taken[0].rowId, 999_999]);
    expect(o.stats().location).toMatchObject({ count: 2, inFlight: 0 });
    expect(o.totalBytes).toBe(2 * cost('location', 10));
    o = reopen(o);
    expect(ids(o.take('location', 10))).toEqual(ids(put.slice(2)));
    expect(o.totalBytes).toBe(2 * cost('location', 10));
  });

  it('confirm deletes what this process sent, in flight or released again, by message id', async () => {
    let o = openOutbox();
    const put = await Promise.all([...Array(4)].map(() => o.put(msg('result'))));
    const taken = o.take('result', 3);
    o.release([taken[1].rowId]); // sent, then the connection dropped: the platform may still have it
    const got = o.confirm([put[0].msgId, put[1].msgId, put[3].msgId, 'unknown']);
    // put[3] was never handed out: a confirmation cannot name it (it was not sent by this process).
    expect(got.map((g) => g.msgId)).toEqual([put[0].msgId, put[1].msgId]);
    expect(o.confirm([put[0].msgId])).toEqual([]);
    expect(o.stats().result).toMatchObject({ count: 2, inFlight: 1 });
    o = reopen(o);
    expect(ids(o.take('result', 10))).toEqual([put[2].msgId, put[3].msgId]);
    // After a restart nothing is known as sent: confirmations of an earlier boot's sends are ignored (the rows go out again).
    const fresh = reopen(o);
    expect(fresh.confirm([put[2].msgId])).toEqual([]);
  });

  it('stats reports the oldest creation time per lane', async () => {
    let t = 1000;
    const o = openOutbox({ now: () => t++ });
    await o.put(msg('status'));
    await o.put(msg('status'));
    const s = o.stats();
    expect(s.status).toEqual({ count: 2, bytes: 2 * cost('status', 10), oldestAt: 1000, inFlight: 0 });
    expect(s.alarm.oldestAt).toBeUndefined();
    expect(Object.keys(s)).toEqual([...LANES]);
  });

  it('evicts statuses oldest first, never manifests, and reports it; a manifest is stored over capacity', async () => {
    const each = cost('status', 92); // 92 + 8 = 100 (topic t/status is 8 chars)
    const o = openOutbox({ capacityBytes: 5 * each });
    const events: EvictedEvent[] = [];
    o.on('evicted', (e: EvictedEvent) => events.push(e));
    const m = await Promise.all([...Array(2)].map(() => o.put(msg('manifest', 90)))); // t/manifest is 10 chars → 100
    const s = await Promise.all([...Array(3)].map(() => o.put(msg('status', 92))));
    await o.put(msg('result', 190)); // needs 200 bytes: two statuses go
    expect(events).toEqual([{ lane: 'status', count: 2, bytes: 200, reason: 'capacity' }]);
    expect(ids(o.take('status', 10))).toEqual([s[2].msgId]);
    o.releaseAll();
    const m3 = await o.put(msg('manifest', 190)); // 200 bytes: the last status and then the result go
    expect(events.slice(1)).toEqual([
      { lane: 'status', count: 1, bytes: 100, reason: 'capacity' },
      { lane: 'result', count: 1, bytes: cost('result', 190), reason: 'capacity' },
    ]);
    const m4 = await o.put(msg('manifest', 190)); // nothing evictable is left: stored over capacity
    expect(events).toHaveLength(3);
    expect(ids(o.take('manifest', 10))).toEqual(ids([...m, m3, m4]));
    expect(o.totalBytes).toBe(6 * each);
  });

  it('thins locations (first, last and every 4th kept) instead of dropping them', async () => {
    const o = openOutbox({ capacityBytes: 10 * cost('location', 10) });
    const events: EvictedEvent[] = [];
    o.on('evicted', (e: EvictedEvent) => events.push(e));
    const locs = await Promise.all([...Array(10)].map(() => o.put(msg('location'))));
    const next = await o.put(msg('location'));
    expect(events).toEqual([{ lane: 'location', count: 6, bytes: 6 * cost('location', 10), reason: 'thinned' }]);
    expect(ids(o.take('location', 100))).toEqual(ids([locs[0], locs[4], locs[8], locs[9], next]));
  });

  it('never evicts alarms: an alarm put succeeds over capacity, other puts are refused with an event', async () => {
    const o = openOutbox({ capacityBytes: 2 * cost('alarm', 10) });
    const events: EvictedEvent[] = [];
    o.on('evicted', (e: EvictedEvent) => events.push(e));
    const alarms = await Promise.all([...Array(3)].map(() => o.put(msg('alarm'))));
    expect(o.totalBytes).toBe(3 * cost('alarm', 10));
    await expect(o.put(msg('result'))).rejects.toThrow(/capacity of \d+ bytes exceeded: result message/);
    expect(events).toEqual([{ lane: 'result', count: 1, bytes: cost('result', 10), reason: 'refused' }]);
    expect(ids(o.take('alarm', 10))).toEqual(ids(alarms));
  });

  it('does not evict entries that are in flight', async () => {
    const o = openOutbox({ capacityBytes: 2 * cost('status', 10) });
    await o.put(msg('status'));
    await o.put(msg('status'));
    o.take('status', 2);
    await expect(o.put(msg('status'))).rejects.toThrow(/capacity/);
    expect(o.stats().status.count).toBe(2);
  });

  it('rejects every put of a batch whose commit fails and reports them as write-failed', async () => {
    const o = openOutbox();
    const events: EvictedEvent[] = [];
    o.on('evicted', (e: EvictedEvent) => events.push(e));
    await o.put(msg('status'));
    // Stand-in for a full disk: a second connection makes inserts of one msgId fail.
    const raw = new Database(dir.file('outbox.db'));
    raw.exec("CREATE TRIGGER fail BEFORE INSERT ON outbox WHEN NEW.msg_id = 'boom' BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END");
    raw.close();
    const bad = [o.put(msg('location')), o.put(msg('location', 10, { msgId: 'boom' })), o.put(msg('result'))];
    for (const p of bad) await expect(p).rejects.toThrow(/outbox commit failed: simulated disk full/);
    expect(events).toEqual([
      { lane: 'location', count: 2, bytes: 2 * cost('location', 10), reason: 'write-failed' },
      { lane: 'result', count: 1, bytes: cost('result', 10), reason: 'write-failed' },
    ]);
    expect(o.stats().location.count).toBe(0);
    expect(o.totalBytes).toBe(cost('status', 10));
    await o.put(msg('location'));
    expect(o.stats().location.count).toBe(1);
  });

  // Run twice: with the default in-memory tail, and with a tail of ~2 rows, so take() keeps
  // switching between rows held in memory and rows read back from SQLite.
  it.each([undefined, 50])('property: take/release/ack/restart agree with a simple model of the queue (tail bound %s)', async (tailBytes) => {
    type Op = { op: 'put' | 'burst' | 'take' | 'release' | 'releaseAll' | 'ack' | 'ackMsg' | 'reopen'; lane: Lane; k: number };
    const ops = fc.array(fc.record({
      op: fc.constantFrom<Op['op']>('put', 'put', 'put', 'burst', 'take', 'take', 'release', 'releaseAll', 'ack', 'ackMsg', 'reopen'),
      lane: fc.constantFrom<Lane>('alarm', 'location'),
      k: fc.integer({ min: 0, max: 5 }),
    }), { minLength: 20, maxLength: 40 });
    let run = 0;
    await fc.assert(fc.asyncProperty(ops, async (list) => {
      const path = dir.file(`model-${tailBytes ?? 'd'}-${run++}.db`);
      let o = Outbox.open(path, { tailBytes });
      // Model: stored messages in put order, with an in-flight flag.
      const model: Array<{ msgId: string; lane: Lane; inFlight: boolean }> = [];
      const rowOf = new Map<string, number>();
      try {
        for (const { op, lane, k } of list) {
          const inFlight = model.filter((m) => m.inFlight);
          const pick = inFlight[k % Math.max(1, inFlight.length)];
          if (op === 'put') {
            const e = await o.put(msg(lane, 10));
            rowOf.set(e.msgId, e.rowId);
            model.push({ msgId: e.msgId, lane, inFlight: false });
          } else if (op === 'burst') {
            // Puts still uncommitted while take() runs: only what is committed can be taken, and
            // rows committed after a take that drained the lane must be found by the next one.
            // (An alarm put commits at once, with everything pending: alarms never wait for a group commit.)
            const inputs = Array.from({ length: k + 1 }, () => msg(lane, 10));
            const puts = inputs.map((i) => o.put(i));
            const later = lane === 'alarm' ? [] : inputs;
            if (lane === 'alarm') for (const i of inputs) model.push({ msgId: i.msgId, lane, inFlight: false });
            const want = model.filter((m) => m.lane === lane && !m.inFlight).slice(0, k);
            expect(ids(o.take(lane, k))).toEqual(ids(want));
            for (const m of want) m.inFlight = true;
            for (const e of await Promise.all(puts)) rowOf.set(e.msgId, e.rowId);
            for (const i of later) model.push({ msgId: i.msgId, lane, inFlight: false });
          } else if (op === 'take') {
            const want = model.filter((m) => m.lane === lane && !m.inFlight).slice(0, k);
            expect(ids(o.take(lane, k))).toEqual(ids(want));
            for (const m of want) m.inFlight = true;
          } else if (op === 'release' && pick !== undefined) {
            o.release([rowOf.get(pick.msgId)!]);
            pick.inFlight = false;
          } else if (op === 'releaseAll' || op === 'reopen') {
            if (op === 'reopen') {
              o.close();
              o = Outbox.open(path, { tailBytes });
            } else {
              o.releaseAll();
            }
            for (const m of model) m.inFlight = false;
          } else if ((op === 'ack' || op === 'ackMsg') && pick !== undefined) {
            if (op === 'ack') o.ack([rowOf.get(pick.msgId)!]);
            else expect(o.confirm([pick.msgId]).map((c) => c.msgId)).toEqual([pick.msgId]);
            model.splice(model.indexOf(pick), 1);
          }
          for (const l of ['alarm', 'location'] as const) {
            expect(o.has(l)).toBe(model.some((m) => m.lane === l && !m.inFlight));
            expect(o.stats()[l].count).toBe(model.filter((m) => m.lane === l).length);
          }
        }
      } finally {
        o.close();
      }
    }), { numRuns: 30 });
  });

  it('survives kill -9 while putting: every message reported durable is there and the database is intact', async () => {
    const dist = fileURLToPath(new URL('../../dist/agent/transport/outbox.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`compiled outbox missing at ${dist}: run npm run build`);
    const script = dir.file('writer.mjs');
    await writeFile(script, `
      import { Outbox } from ${JSON.stringify(dist)};
      const ob = Outbox.open(process.argv[2]);
      let i = 0;
      function burst() {
        for (let k = 0; k < 40; k++) {
          const id = 'm' + i++;
          const lane = k % 10 === 0 ? 'alarm' : 'location';
          ob.put({ lane, topic: 'nrec/v1/dev/' + lane, payload: Buffer.alloc(200, k), msgId: id })
            .then(() => process.stdout.write(id + '\\n'));
        }
        setImmediate(burst);
      }
      burst();
    `);
    const dbPath = dir.file('killed.db');
    const child = spawn(process.execPath, [script, dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 3000) resolve();
      });
      child.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${err}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const durable = out.split('\n').slice(0, -1); // the last line may be cut mid-write

    const raw = new Database(dbPath);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    const o = Outbox.open(dbPath);
    open.push(o);
    const stored = new Set(ids([...o.take('alarm', 1e9), ...o.take('location', 1e9)]));
    const missing = durable.filter((id) => !stored.has(id));
    expect(durable.length).toBeGreaterThanOrEqual(3000);
    expect(missing).toEqual([]);
  });
});

describe('idRuns', () => {
  it('groups ids into runs of consecutive ids, whatever their order and repeats', async () => {
    const { idRuns } = await import('./outbox-sql.js');
    expect(idRuns([])).toEqual([]);
    expect(idRuns([7])).toEqual([[7, 7]]);
    expect(idRuns([5, 3, 4, 9, 10, 12, 4])).toEqual([[3, 5], [9, 10], [12, 12]]);
    // Every id inside a run is one of the ids: a range delete removes exactly them.
    const ids = Array.from({ length: 300 }, () => Math.floor(Math.random() * 400));
    const covered = idRuns(ids).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
    expect(covered).toEqual([...new Set(ids)].sort((a, b) => a - b));
  });
});
