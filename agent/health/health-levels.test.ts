import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batteryBand, diffLevels, externalPower, levelsOf, stableJson, storageBand, type HealthLevels, type LevelInput } from './health-levels.js';

function input(over: Partial<LevelInput> & { pct?: number } = {}): LevelInput {
  const { pct, ...rest } = over;
  return {
    power: pct === undefined ? {} : { battery: { name: 'BAT0', pct, status: 'discharging' }, onExternalPower: false },
    storage: { usedBytes: 0, quotaBytes: 1000 },
    clockSynced: true,
    states: {},
    ...rest,
  };
}

/** Feeds battery readings through levelsOf/diffLevels as the monitor does; returns the readings that reported a change. */
function batteryChanges(readings: number[]): number[] {
  let prev: HealthLevels | undefined;
  const hits: number[] = [];
  for (const pct of readings) {
    const next = levelsOf(input({ pct }), prev);
    if (prev !== undefined && diffLevels(prev, next).includes('battery.level')) hits.push(pct);
    prev = next;
  }
  return hits;
}

describe('battery bands', () => {
  it('bands at 20, 10 and 5 %, edges included', () => {
    expect([100, 21, 20, 11, 10, 6, 5, 0].map((p) => batteryBand(p, undefined))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('a discharge crossing 20, 10 and 5 % reports each crossing once', () => {
    expect(batteryChanges([30, 25, 21, 20, 19, 18, 11, 10, 9, 6, 5, 4, 0])).toEqual([20, 10, 5]);
  });

  it('a reading hovering at a threshold reports once, not on every flip', () => {
    expect(batteryChanges([22, 21, 20, 21, 20, 22, 20, 21, 19, 22])).toEqual([20]);
  });

  it('recovering past the threshold plus hysteresis reports once more', () => {
    expect(batteryChanges([25, 20, 21, 22, 23, 24])).toEqual([20, 23]);
  });

  it('property: a monotone discharge reports at most once per threshold', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 200 }), (xs) => {
        const readings = [...xs].sort((a, b) => b - a);
        const hits = batteryChanges(readings);
        expect(hits.length).toBeLessThanOrEqual(3);
        expect(new Set(hits.map((p) => batteryBand(p, undefined))).size).toBe(hits.length);
      }),
    );
  });

  it('property: a reading jittering within ±2 % around a threshold reports at most once', () => {
    fc.assert(
      fc.property(fc.constantFrom(20, 10, 5), fc.array(fc.integer({ min: -2, max: 2 }), { maxLength: 100 }), (t, jitter) => {
        expect(batteryChanges([t + 2, ...jitter.map((j) => t + j)]).length).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe('storage bands', () => {
  it('bands at 90 and 95 % with 1 % hysteresis downwards', () => {
    expect(storageBand(0.899, undefined)).toBe(0);
    expect(storageBand(0.9, undefined)).toBe(1);
    expect(storageBand(0.95, undefined)).toBe(2);
    expect(storageBand(0.945, 2)).toBe(2);
    expect(storageBand(0.935, 2)).toBe(1);
    expect(storageBand(0.895, 1)).toBe(1);
    expect(storageBand(0.5, 2)).toBe(0);
  });
});

describe('diffLevels', () => {
  const base = levelsOf(input({ pct: 50, states: { gps: { link: 'connected', sats: 7 } } }), undefined);

  it('sees nothing when nothing discrete changed, whatever the key order of a state', () => {
    const next = levelsOf(input({ pct: 49, states: { gps: { sats: 7, link: 'connected' } } }), base);
    expect(diffLevels(base, next)).toEqual([]);
  });

  it('names each kind of change', () => {
    const next = levelsOf(
      {
        power: { battery: { name: 'BAT0', pct: 50, status: 'charging' }, onExternalPower: true },
        storage: { usedBytes: 960, quotaBytes: 1000 },
        clockSynced: false,
        states: { gps: { link: 'lost', sats: 7 }, button: 'ok' },
      },
      base,
    );
    expect(diffLevels(base, next).sort()).toEqual(['clock.synced', 'power.external', 'state.button', 'state.gps', 'storage.level']);
  });

  it('a state disappearing is a change', () => {
    expect(diffLevels(base, levelsOf(input({ pct: 50 }), base))).toEqual(['state.gps']);
  });

  it('external power comes from the supply, else from the battery status', () => {
    expect(externalPower({ onExternalPower: false, battery: { name: 'B', status: 'charging' } })).toBe(false);
    expect(externalPower({ battery: { name: 'B', status: 'full' } })).toBe(true);
    expect(externalPower({ battery: { name: 'B', status: 'discharging' } })).toBe(false);
    expect(externalPower({ battery: { name: 'B', status: 'unknown' } })).toBeUndefined();
    expect(externalPower({})).toBeUndefined();
  });

  it('stableJson sorts nested keys and leaves arrays in order', () => {
    expect(stableJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(stableJson(undefined)).toBe('undefined');
  });
});
