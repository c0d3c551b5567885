import fc from 'fast-check';
import { expect } from 'vitest';
import { deviceTopic, type DeviceStream } from '../../protocol/index.js';
import { rejectedInput, T0 } from './store-fixtures.js';
import type { AcceptedMessage, PlatformStore, RejectedInput } from './types.js';

/*
 * Model-based test of commit: random batches drawn with repeats from a pool
 * of messages (several devices and streams, receipt times that tie and run
 * backwards), committed in turn, against a model that is a map of what was
 * stored first. After every commit the stored flags must match the model;
 * at the end every read-back (messages in receipt order, counts, positions,
 * alarm rows, presence, last health) must match what the model derives with
 * the rules written out plainly here.
 */

type Spec =
  | { kind: 'location'; device: number; fixTime: number; rx: number }
  | { kind: 'alarm'; device: number; alarm: number; state: number; escalation: number; rx: number }
  | { kind: 'status'; device: number; state: number; boot: number; rx: number }
  | { kind: 'health'; device: number; rx: number };

const STATES = ['raised', 'acknowledged', 'cancelled', 'resolved'] as const;
const RANK = [0, 1, 2, 2];
const PRESENCE = ['online', 'offline', 'shutdown'] as const;

const rx = fc.integer({ min: 0, max: 40 }).map((n) => T0 + n * 10);
// Two devices and two boots, so that births, stale wills and re-sent alarms of one device meet often.
const device = fc.integer({ min: 0, max: 1 });
const spec: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ kind: fc.constant('location' as const), device, fixTime: fc.integer({ min: 0, max: 20 }), rx }),
  fc.record({ kind: fc.constant('alarm' as const), device, alarm: fc.integer({ min: 0, max: 1 }), state: fc.integer({ min: 0, max: 3 }), escalation: fc.integer({ min: 0, max: 4 }), rx }),
  fc.record({ kind: fc.constant('status' as const), device, state: fc.integer({ min: 0, max: 2 }), boot: fc.integer({ min: 0, max: 1 }), rx }),
  fc.record({ kind: fc.constant('health' as const), device, rx }),
);

function materialize(specs: Spec[]): AcceptedMessage[] {
  return specs.map((s, i) => {
    const deviceId = `mdl-${s.device}`;
    const bootId = s.kind === 'status' ? `boot-${s.boot}` : 'boot-0';
    const env = { v: 1 as const, id: `m-${i}`, deviceId, bootId, seq: i, ts: T0 + i };
    const stream: DeviceStream = s.kind;
    const body =
      s.kind === 'location' ? { fix: { lat: 1, lon: 2, time: T0 + s.fixTime * 1000, fixType: '3d' } }
      : s.kind === 'alarm' ? { alarmId: `a-${s.alarm}`, state: STATES[s.state], trigger: 'button', raisedAt: T0, escalation: s.escalation }
      : s.kind === 'status' ? { state: PRESENCE[s.state] }
      : { trigger: 'interval', storage: { usedBytes: 1, quotaBytes: 2 }, uptimeS: 1, clockSynced: true, queues: {}, states: {} };
    return { deviceId, stream, topic: deviceTopic(deviceId, stream), rx: s.rx, msg: { ...env, ...body } };
  });
}

const scenario = fc.array(spec, { minLength: 8, maxLength: 40 }).chain((specs) =>
  fc.record({
    specs: fc.constant(specs),
    batches: fc.array(
      fc.record({ picks: fc.array(fc.nat(specs.length - 1), { maxLength: 16 }), rejects: fc.array(fc.nat(2), { maxLength: 2 }) }),
      { minLength: 2, maxLength: 8 },
    ),
  }),
);

export async function storeModelTest(open: () => Promise<PlatformStore>, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ specs, batches }) => {
      const pool = materialize(specs);
      const rejPool: RejectedInput[] = [0, 1, 2].map((n) => rejectedInput(n));
      const store = await open();
      try {
        const stored: number[] = []; // pool indexes in storage order
        const has = new Set<number>();
        const rejectedSeen = new Set<number>();
        for (const b of batches) {
          const expected = b.picks.map((p) => {
            if (has.has(p)) return false;
            has.add(p);
            stored.push(p);
            return true;
          });
          for (const r of b.rejects) rejectedSeen.add(r);
          const r = await store.commit(b.picks.map((p) => pool[p]), b.rejects.map((x) => rejPool[x]));
          expect(r.stored).toEqual(expected);
        }
        await checkReadBack(store, specs, pool, stored, rejectedSeen.size);
      } finally {
        await store.close();
      }
    }),
    { numRuns },
  );
}

async function checkReadBack(store: PlatformStore, specs: Spec[], pool: AcceptedMessage[], stored: number[], rejected: number): Promise<void> {
  const order = new Map(stored.map((p, i) => [p, i]));
  const byRx = [...stored].sort((a, b) => pool[a].rx - pool[b].rx || order.get(a)! - order.get(b)!);
  const devices = new Set(stored.map((p) => pool[p].deviceId));
  const perStream: Record<string, number> = {};
  for (const p of stored) perStream[pool[p].stream] = (perStream[pool[p].stream] ?? 0) + 1;
  const counts = await store.counts();
  expect(counts).toMatchObject({ devices: devices.size, messages: perStream, rejected });

  for (let dev = 0; dev < 2; dev++) {
    const deviceId = `mdl-${dev}`;
    for (const stream of ['location', 'alarm', 'status', 'health'] as const) {
      const want = byRx.filter((p) => pool[p].deviceId === deviceId && pool[p].stream === stream).map((p) => pool[p].msg.id);
      expect((await store.messages(deviceId, stream)).map((m) => m.m.id)).toEqual(want);
    }
    const mine = stored.filter((p) => pool[p].deviceId === deviceId);
    const view = await store.device(deviceId);
    if (mine.length === 0) {
      expect(view).toBeUndefined();
      continue;
    }
    // Positions: one per stored location; the last position has the latest fix time (a later commit wins a tie).
    const locs = mine.filter((p) => specs[p].kind === 'location');
    expect((await store.positions(deviceId, { limit: 1000 })).length).toBe(locs.length);
    let last: number | undefined;
    for (const p of locs) if (last === undefined || pool[p].msg.fix && (pool[p].msg.fix as { time: number }).time >= (pool[last].msg.fix as { time: number }).time) last = p;
    expect(view?.lastPosition?.msgId).toBe(last === undefined ? undefined : pool[last].msg.id);
    // Last health: the latest received (a later commit wins a tie).
    let health: number | undefined;
    for (const p of mine) if (specs[p].kind === 'health' && (health === undefined || pool[p].rx >= pool[health].rx)) health = p;
    expect(view?.lastHealth?.msgId).toBe(health === undefined ? undefined : pool[health].msg.id);
    // Presence: a will or shutdown of a boot other than the latest birth's changes nothing.
    let presence: { state: string; bootId: string } | undefined;
    let birth: string | undefined;
    for (const p of mine) {
      const s = specs[p];
      if (s.kind !== 'status') continue;
      const boot = `boot-${s.boot}`;
      if (PRESENCE[s.state] === 'online') birth = boot;
      else if (birth !== undefined && birth !== boot) continue;
      presence = { state: PRESENCE[s.state], bootId: boot };
    }
    expect(view?.presence === undefined ? undefined : { state: view.presence.state, bootId: view.presence.bootId }).toEqual(presence);
    // Alarms: the furthest state (ties: the later receipt, then the later commit), the highest escalation, counts.
    for (const a of [0, 1]) {
      const msgs = mine.filter((p) => specs[p].kind === 'alarm' && (specs[p] as { alarm: number }).alarm === a);
      const row = await store.alarm(deviceId, `a-${a}`);
      if (msgs.length === 0) {
        expect(row).toBeUndefined();
        continue;
      }
      let cur = msgs[0];
      for (const p of msgs.slice(1)) {
        const [sp, sc] = [specs[p] as { state: number }, specs[cur] as { state: number }];
        if (RANK[sp.state] > RANK[sc.state] || (RANK[sp.state] === RANK[sc.state] && pool[p].rx >= pool[cur].rx)) cur = p;
      }
      const raised = msgs.filter((p) => (specs[p] as { state: number }).state === 0).length;
      expect(row).toMatchObject({
        state: STATES[(specs[cur] as { state: number }).state],
        escalation: Math.max(...msgs.map((p) => (specs[p] as { escalation: number }).escalation)),
        resends: Math.max(0, raised - 1),
        messages: msgs.length,
        firstRx: Math.min(...msgs.map((p) => pool[p].rx)),
        lastRx: Math.max(...msgs.map((p) => pool[p].rx)),
      });
      expect(row?.history.length).toBe(msgs.length);
    }
  }
}
