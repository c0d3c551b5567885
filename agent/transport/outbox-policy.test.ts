import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LANES, planEviction, storedOverCapacity, thinPass, type Lane, type PolicyRow } from './outbox-policy.js';

function rowsOf(spec: Partial<Record<Lane, PolicyRow[]>>): (l: Lane) => PolicyRow[] {
  return (l) => spec[l] ?? [];
}
function seq(from: number, n: number, bytes = 10): PolicyRow[] {
  return Array.from({ length: n }, (_, i) => ({ rowId: from + i, bytes }));
}

describe('thinPass', () => {
  it('keeps the first, the last and every Nth counted from the first', () => {
    // 10 rows, N=4: keep 0, 4, 8, 9
    expect(thinPass(10, 4)).toEqual([1, 2, 3, 5, 6, 7]);
    expect(thinPass(3, 4)).toEqual([1]);
    expect(thinPass(2, 4)).toEqual([]);
    expect(thinPass(1, 4)).toEqual([]);
  });
});

describe('planEviction', () => {
  it('evicts statuses oldest first, only as many as needed, and never a manifest', () => {
    const plan = planEviction({ lane: 'result', needBytes: 25, thinKeepEvery: 4, rows: rowsOf({ manifest: seq(1, 5), status: seq(10, 5) }) });
    expect(plan).toEqual({ drops: [{ lane: 'status', rowIds: [10, 11, 12], bytes: 30, reason: 'capacity' }], freed: 30, enough: true });
  });

  it('goes status → location (thinned) → result, never alarm or manifest', () => {
    for (const lane of ['alarm', 'manifest'] as const) {
      const plan = planEviction({
        lane, needBytes: 10_000, thinKeepEvery: 4,
        rows: rowsOf({ manifest: seq(1, 2), status: seq(10, 2), location: seq(20, 10), result: seq(40, 3), alarm: seq(50, 3) }),
      });
      expect(plan.drops.map((d) => [d.lane, d.reason])).toEqual([['status', 'capacity'], ['location', 'thinned'], ['result', 'capacity']]);
      // locations: first pass keeps 20,24,28,29; second pass keeps 20,29
      expect(plan.drops[1].rowIds).toEqual([21, 22, 23, 25, 26, 27, 24, 28]);
      expect(plan.drops.flatMap((d) => d.rowIds).some((id) => id < 10 || id >= 50)).toBe(false);
      expect(plan.enough).toBe(false);
    }
    expect(storedOverCapacity('alarm')).toBe(true);
    expect(storedOverCapacity('manifest')).toBe(true);
    expect(LANES.filter((l) => !storedOverCapacity(l))).toEqual(['result', 'status', 'location']);
  });

  it('thins in whole passes and stops once enough is freed', () => {
    const plan = planEviction({ lane: 'location', needBytes: 10, thinKeepEvery: 4, rows: rowsOf({ location: seq(0, 10) }) });
    expect(plan.drops).toEqual([{ lane: 'location', rowIds: [1, 2, 3, 5, 6, 7], bytes: 60, reason: 'thinned' }]);
  });

  it('never lets a put displace a more valuable lane', () => {
    const rows = rowsOf({ manifest: seq(1, 1), status: seq(10, 3), location: seq(20, 10), result: seq(40, 3) });
    const status = planEviction({ lane: 'status', needBytes: 1000, thinKeepEvery: 4, rows });
    expect(status.drops.map((d) => d.lane)).toEqual(['status']);
    expect(status.enough).toBe(false);
    const location = planEviction({ lane: 'location', needBytes: 1000, thinKeepEvery: 4, rows });
    expect(location.drops.map((d) => d.lane)).toEqual(['status', 'location']);
  });

  it('rejects a thinning step below 2', () => {
    expect(() => planEviction({ lane: 'alarm', needBytes: 1, thinKeepEvery: 1, rows: rowsOf({}) })).toThrow(/thinKeepEvery/);
  });

  it('property: drops only existing rows of evictable lanes, each once, and frees what it claims', () => {
    const laneRows = fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 40 });
    fc.assert(fc.property(
      fc.record({ manifest: laneRows, status: laneRows, location: laneRows, result: laneRows, alarm: laneRows }),
      fc.constantFrom<Lane>('alarm', 'result', 'status', 'location', 'manifest'),
      fc.integer({ min: 1, max: 20_000 }),
      fc.integer({ min: 2, max: 8 }),
      (sizes, lane, need, keep) => {
        let id = 0;
        const spec: Partial<Record<Lane, PolicyRow[]>> = {};
        for (const [l, bs] of Object.entries(sizes)) spec[l as Lane] = bs.map((bytes) => ({ rowId: id++, bytes }));
        const byId = new Map(Object.entries(spec).flatMap(([l, rs]) => rs.map((r) => [r.rowId, { lane: l, bytes: r.bytes }] as const)));
        const plan = planEviction({ lane, needBytes: need, thinKeepEvery: keep, rows: rowsOf(spec) });
        const ids = plan.drops.flatMap((d) => d.rowIds);
        expect(new Set(ids).size).toBe(ids.length);
        let sum = 0;
        for (const d of plan.drops) {
          expect(d.lane).not.toBe('alarm');
          expect(d.lane).not.toBe('manifest');
          for (const rid of d.rowIds) {
            expect(byId.get(rid)?.lane).toBe(d.lane);
            sum += byId.get(rid)!.bytes;
          }
        }
        expect(sum).toBe(plan.freed);
        expect(plan.enough).toBe(plan.freed >= need);
        // the first and last location always survive
        const locs = spec.location ?? [];
        if (locs.length > 0) {
          expect(ids).not.toContain(locs[0].rowId);
          expect(ids).not.toContain(locs[locs.length - 1].rowId);
        }
      },
    ));
  });
});
