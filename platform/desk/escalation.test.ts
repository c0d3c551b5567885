import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dueStep, firstStep, nextStep, type EscalationPlan, type Step } from './escalation.js';

const T0 = 1_000_000;
const S = 1000;

/** Runs the policy as the desk does, polling every `everyMs` from t0 to t0 + `forMs`; returns the steps run with the time they ran. */
function simulate(plan: EscalationPlan, everyMs: number, forMs: number, down?: { from: number; to: number }) {
  const ran: Array<Step & { ranAt: number }> = [];
  let last: Step | undefined;
  for (let now = T0; now <= T0 + forMs; now += everyMs) {
    if (down !== undefined && now >= T0 + down.from && now < T0 + down.to) continue;
    const d = dueStep(plan, last, T0, now);
    if (d.run !== undefined) {
      ran.push({ ...d.run, ranAt: now });
      last = d.run;
    }
  }
  return ran;
}

const short = (steps: Array<Step & { ranAt?: number }>) => steps.map((s) => `t${s.tier}#${s.attempt}@${(s.at - T0) / S}${s.ranAt !== undefined && s.ranAt !== s.at ? `(ran ${(s.ranAt - T0) / S})` : ''}`);

describe('escalation policy', () => {
  it('with the defaults tells each tier once a minute apart, then the last tier every two minutes', () => {
    const plan = { tiers: [{ delayMs: 60 * S }, { delayMs: 60 * S }, { delayMs: 60 * S }], repeatMs: 120 * S };
    expect(short(simulate(plan, S, 600 * S))).toEqual(['t0#0@0', 't1#0@60', 't2#0@120', 't2#1@240', 't2#2@360', 't2#3@480', 't2#4@600']);
  });

  it('repeats the current tier while its delay lasts, then moves on at the delay, not at the next repeat', () => {
    const plan = { tiers: [{ delayMs: 300 * S }, { delayMs: 60 * S }], repeatMs: 120 * S };
    expect(short(simulate(plan, S, 700 * S))).toEqual(['t0#0@0', 't0#1@120', 't0#2@240', 't1#0@300', 't1#1@420', 't1#2@540', 't1#3@660']);
  });

  it('a single tier is told again every repeat', () => {
    expect(short(simulate({ tiers: [{ delayMs: 60 * S }], repeatMs: 30 * S }, S, 90 * S))).toEqual(['t0#0@0', 't0#1@30', 't0#2@60', 't0#3@90']);
  });

  it('after an outage carries on on schedule: every missed tier in order, missed repeats of one tier collapsed into the latest', () => {
    const plan = { tiers: [{ delayMs: 60 * S }, { delayMs: 60 * S }, { delayMs: 60 * S }], repeatMs: 120 * S };
    // Down from 30 s to 500 s: tiers 1 and 2 (due 60, 120) and the last tier's repeats (240, 360, 480) were missed.
    expect(short(simulate(plan, S, 600 * S, { from: 30 * S, to: 500 * S }))).toEqual(['t0#0@0', 't1#0@60(ran 500)', 't2#3@480(ran 501)', 't2#4@600']);
  });

  it('never runs a step early, never twice, never goes back a tier, and keeps (tier, attempt) unique', () => {
    const planArb = fc.record({
      tiers: fc.array(fc.record({ delayMs: fc.integer({ min: 500, max: 600_000 }) }), { minLength: 1, maxLength: 5 }),
      repeatMs: fc.integer({ min: 500, max: 600_000 }),
    });
    fc.assert(fc.property(planArb, fc.array(fc.integer({ min: 1, max: 400_000 }), { minLength: 1, maxLength: 60 }), (plan, gaps) => {
      let now = T0;
      let last: Step | undefined;
      const keys = new Set<string>();
      for (const g of gaps) {
        const d = dueStep(plan, last, T0, now);
        if (d.run !== undefined) {
          expect(d.run.at).toBeLessThanOrEqual(now);
          expect(d.nextAt).toBeGreaterThan(d.run.at);
          if (last !== undefined) {
            expect(d.run.tier).toBeGreaterThanOrEqual(last.tier);
            expect(d.run.at).toBeGreaterThan(last.at);
          }
          const key = `${d.run.tier}:${d.run.attempt}`;
          expect(keys.has(key)).toBe(false);
          keys.add(key);
          // A tier is only skipped into when the previous one ran.
          if (last !== undefined && d.run.tier > last.tier) expect(d.run.tier).toBe(last.tier + 1);
          last = d.run;
        } else {
          expect(d.nextAt).toBeGreaterThan(now);
        }
        now += g;
      }
    }));
  });

  it('keeps a tier number beyond a plan that lost tiers, repeating the last tier\'s contacts', () => {
    const plan = { tiers: [{ delayMs: 60 * S }], repeatMs: 30 * S };
    expect(nextStep(plan, { tier: 2, attempt: 0, at: T0 })).toEqual({ tier: 2, attempt: 1, at: T0 + 30 * S });
    expect(firstStep(T0)).toEqual({ tier: 0, attempt: 0, at: T0 });
    expect(dueStep(plan, undefined, T0, T0 - 1)).toEqual({ nextAt: T0 });
  });
});
