import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Debouncer, type StableLevel } from './debounce.js';
import { ManualScheduler } from '../../lib/scheduler.js';

/** Plays alternating raw levels (starting at 1) with the given gaps, then holds the last one for `tailMs`. */
function play(gaps: number[], tailMs: number): { out: StableLevel[]; last: 0 | 1; lastAt: number } {
  const s = new ManualScheduler(0);
  const out: StableLevel[] = [];
  const d = new Debouncer(s, (l) => out.push(l), { debounceMs: 30 });
  d.reset(0);
  let level: 0 | 1 = 0;
  let lastAt = 0;
  for (const gap of gaps) {
    level = level === 1 ? 0 : 1;
    lastAt = s.now();
    d.input(level, lastAt);
    s.advance(gap);
  }
  s.advance(tailMs);
  return { out, last: level, lastAt };
}

describe('debouncer', () => {
  it('lets nothing through from any train of pulses shorter than the debounce time that ends released', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 29 }), { maxLength: 60 }).map((a) => (a.length % 2 === 0 ? a : a.slice(1))), (gaps) => {
        expect(play(gaps, 1000).out).toEqual([]);
      }),
    );
  });

  it('reports exactly the final level, stamped at its last transition, once it has held long enough', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 29 }), { minLength: 1, maxLength: 60 }).filter((a) => a.length % 2 === 1), (gaps) => {
        const r = play(gaps, 30);
        expect(r.out).toEqual([{ value: 1, at: r.lastAt }]);
      }),
    );
  });

  it('ignores repeats of the pending level (a level read must not postpone a press)', () => {
    const s = new ManualScheduler(0);
    const out: StableLevel[] = [];
    const d = new Debouncer(s, (l) => out.push(l));
    d.reset(0);
    d.input(1, 0);
    s.advance(20);
    d.input(1, 20);
    s.advance(10);
    expect(out).toEqual([{ value: 1, at: 0 }]);
  });
});
