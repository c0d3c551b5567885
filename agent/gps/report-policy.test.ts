import { describe, expect, test } from 'vitest';
import type { Fix } from './fix.js';
import { EARTH_RADIUS_M, haversineM } from './geodesy.js';
import { REPORT_POLICY_DEFAULTS, ReportPolicy, type LocationReport } from './report-policy.js';

const LAT = 52.5;
const LON = 13.4;

class FakeClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

/** A valid fix `eastM` metres east of the origin. */
function fixAt(eastM: number, opts: { speedMps?: number; accuracyM?: number } = {}): Fix {
  const lon = LON + (eastM / (EARTH_RADIUS_M * Math.cos((LAT * Math.PI) / 180))) * (180 / Math.PI);
  return { time: undefined, lat: LAT, lon, fixType: '3d', valid: true, speedMps: opts.speedMps ?? 1.4, accuracyM: opts.accuracyM ?? 5, talkers: ['GP'], sources: ['GPRMC'] };
}

const noFix: Fix = { time: undefined, fixType: 'none', valid: false, talkers: ['GP'], sources: ['GPRMC'] };

/** Advances the clock second by second, offering `make(second)` each time; returns the reports with their times. */
function drive(policy: ReportPolicy, clock: FakeClock, seconds: number, make: (s: number) => Fix | undefined): { at: number; r: LocationReport }[] {
  const out: { at: number; r: LocationReport }[] = [];
  const start = clock.t;
  for (let s = 1; s <= seconds; s++) {
    clock.t = start + s * 1000;
    const fix = make(s);
    const r = fix === undefined ? policy.tick() : policy.offer(fix);
    if (r) out.push({ at: s, r });
  }
  return out;
}

describe('ReportPolicy', () => {
  test('defaults suit a walking nurse and are exported', () => {
    expect(REPORT_POLICY_DEFAULTS).toMatchObject({ intervalMs: 30_000, displacementM: 25, visitIntervalMs: 10_000, stationaryIntervalMs: 120_000, burstIntervalMs: 1_000, burstDurationMs: 60_000 });
    expect(Object.isFrozen(REPORT_POLICY_DEFAULTS)).toBe(true);
  });

  test('first fix at once, then at the interval while barely moving', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    expect(p.offer(fixAt(0))?.reason).toBe('first');
    const reports = drive(p, clock, 95, () => fixAt(0, { speedMps: 0.6 }));
    expect(reports.map((x) => [x.at, x.r.reason])).toEqual([
      [30, 'interval'],
      [60, 'interval'],
      [90, 'interval'],
    ]);
    expect(reports.every((x) => !x.r.stale && x.r.ageMs === 0)).toBe(true);
  });

  test('displacement beyond the threshold publishes early, but not more often than minIntervalMs', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.offer(fixAt(0));
    // Driving at 15 m/s: 25 m is passed every ~2 s, publishes come every 5 s.
    const reports = drive(p, clock, 20, (s) => fixAt(15 * s, { speedMps: 15 }));
    expect(reports.map((x) => [x.at, x.r.reason])).toEqual([
      [5, 'displacement'],
      [10, 'displacement'],
      [15, 'displacement'],
      [20, 'displacement'],
    ]);
    // Then walking at 1.4 m/s from the last published point (300 m): 25 m take 18 s.
    const walk = drive(p, clock, 40, (s) => fixAt(300 + 1.4 * s));
    expect(walk.map((x) => [x.at, x.r.reason])).toEqual([
      [18, 'displacement'],
      [36, 'displacement'],
    ]);
    const step = haversineM(walk[1].r.fix.lat ?? 0, walk[1].r.fix.lon ?? 0, walk[0].r.fix.lat ?? 0, walk[0].r.fix.lon ?? 0);
    expect(step).toBeGreaterThanOrEqual(25);
  });

  test('jumps smaller than the fix accuracy are jitter, not movement', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.offer(fixAt(0));
    const reports = drive(p, clock, 29, (s) => fixAt(s % 2 === 0 ? 35 : -35, { accuracyM: 50 }));
    expect(reports).toEqual([]);
  });

  test('standing still for stationaryAfterMs slows down to stationaryIntervalMs; moving speeds up again', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.offer(fixAt(0, { speedMps: 0 }));
    const still = drive(p, clock, 400, () => fixAt(0, { speedMps: 0.1 }));
    // 30 s under the normal interval; stationary from 60 s on, so the next are 120 s apart.
    expect(still.map((x) => x.at)).toEqual([30, 150, 270, 390]);
    expect(p.stationary).toBe(true);
    const moving = drive(p, clock, 70, () => fixAt(0, { speedMps: 1.2 }));
    expect(p.stationary).toBe(false);
    // Moving brings the 30 s interval back: due 30 s after the report at 390, i.e. at 420.
    expect(moving.map((x) => x.at)).toEqual([20, 50]);
  });

  test('a visit publishes every visitIntervalMs until it ends', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.offer(fixAt(0));
    p.setVisit(true);
    expect(drive(p, clock, 35, () => fixAt(0, { speedMps: 0 })).map((x) => x.at)).toEqual([10, 20, 30]);
    p.setVisit(false);
    expect(drive(p, clock, 35, () => fixAt(0)).map((x) => x.at)).toEqual([25]);
  });

  test('SOS: one report at once, then 1 Hz for 60 s, then back to the interval', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.offer(fixAt(0));
    clock.t += 3000;
    p.sosBurst();
    expect(p.offer(fixAt(0))?.reason).toBe('locate');
    const burst = drive(p, clock, 90, () => fixAt(0));
    const inBurst = burst.filter((x) => x.at < 60);
    expect(inBurst).toHaveLength(59);
    expect(inBurst.every((x) => x.r.reason === 'burst')).toBe(true);
    expect(burst.filter((x) => x.at >= 60).map((x) => x.at)).toEqual([89]); // 30 s after the last burst report
  });

  test('locateNow forces the next decision, by offer or by tick', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.offer(fixAt(0));
    clock.t += 2000;
    expect(p.offer(fixAt(0))).toBeUndefined();
    p.locateNow();
    expect(p.nextDueInMs()).toBe(0);
    expect(p.tick()?.reason).toBe('locate');
    expect(p.tick()).toBeUndefined();
  });

  test('no fix ever: nothing to report, even when asked', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    p.locateNow();
    expect(drive(p, clock, 100, () => noFix)).toEqual([]);
    expect(p.offer(fixAt(0))?.reason).toBe('first');
  });

  test('losing the fix: the last known one goes out at the interval, stale, with its age', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock);
    const last = fixAt(0, { speedMps: 0 });
    p.offer(last);
    const reports = drive(p, clock, 200, (s) => (s % 2 === 0 ? noFix : undefined));
    // Never the stationary rate: without a fix we cannot tell whether the wearer moves.
    expect(reports.map((x) => x.at)).toEqual([30, 60, 90, 120, 150, 180]);
    for (const { at, r } of reports) expect(r).toMatchObject({ fix: last, stale: true, ageMs: at * 1000, reason: 'interval' });
    p.locateNow();
    expect(p.tick()).toMatchObject({ stale: true, reason: 'locate', ageMs: 200_000 });
  });

  test('options override the defaults', () => {
    const clock = new FakeClock();
    const p = new ReportPolicy(clock, { intervalMs: 5000 });
    p.offer(fixAt(0));
    expect(drive(p, clock, 11, () => fixAt(0)).map((x) => x.at)).toEqual([5, 10]);
    expect(p.currentIntervalMs()).toBe(5000);
    clock.t += 2000;
    expect(p.nextDueInMs()).toBe(2000);
  });
});
