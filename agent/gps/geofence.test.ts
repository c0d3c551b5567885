import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Fix } from './fix.js';
import { EARTH_RADIUS_M } from './geodesy.js';
import { GEOFENCE_DEFAULTS, Geofences } from './geofence.js';

const C = { lat: 48.2, lon: 16.37 };
const home = { id: 'home-17', lat: C.lat, lon: C.lon, radiusM: 100 };

/** A valid fix `northM` metres north of the fence centre. */
function fixAt(northM: number, accuracyM = 5): Fix {
  return { time: 1_700_000_000_000 + northM, lat: C.lat + (northM / EARTH_RADIUS_M) * (180 / Math.PI), lon: C.lon, fixType: '3d', valid: true, accuracyM, talkers: ['GN'], sources: ['GNRMC'] };
}

function feed(g: Geofences, distances: number[], accuracyM = 5) {
  return distances.flatMap((d) => g.update(fixAt(d, accuracyM)).map((e) => e.type));
}

describe('Geofences', () => {
  test('defaults', () => {
    expect(GEOFENCE_DEFAULTS).toEqual({ minMarginM: 10, confirmFixes: 2 });
  });

  test('starting inside: enter after two confirming fixes', () => {
    const g = new Geofences();
    g.set(home);
    expect(g.update(fixAt(20))).toEqual([]);
    const [e] = g.update(fixAt(21));
    expect(e).toMatchObject({ type: 'enter', fenceId: 'home-17', time: fixAt(21).time });
    expect(e.distanceM).toBeCloseTo(21, 6);
    expect(g.inside()).toEqual(['home-17']);
  });

  test('starting outside is silent; walking in and out gives one enter and one leave', () => {
    const g = new Geofences();
    g.set(home);
    const walkIn = Array.from({ length: 40 }, (_, i) => 300 - i * 10); // 300 m → −90 m
    const walkOut = [...walkIn].reverse();
    expect(feed(g, [...walkIn, ...walkOut])).toEqual(['enter', 'leave']);
    expect(g.inside()).toEqual([]);
  });

  test('jitter at the boundary within the margin never produces an event', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.double({ min: -9.9, max: 9.9, noNaN: true }), { minLength: 1, maxLength: 200 }), (startInside, jitter) => {
        const g = new Geofences();
        g.set(home);
        feed(g, startInside ? [0, 0] : [500, 500]);
        expect(feed(g, jitter.map((j) => 100 + j))).toEqual([]);
      }),
    );
  });

  test('single outliers beyond the margin do not flap: two in a row are needed', () => {
    const g = new Geofences();
    g.set(home);
    feed(g, [0, 0]);
    // Alternate far outside and inside: never two consecutive outside fixes.
    expect(feed(g, [150, 50, 150, 95, 150, 105, 150, 40])).toEqual([]);
    expect(feed(g, [150, 150])).toEqual(['leave']);
  });

  test('a poor fix widens the margin (up to half the radius)', () => {
    const g = new Geofences();
    g.set(home);
    expect(feed(g, [75, 75, 75], 30)).toEqual([]); // 75 m is not within 100 − 30
    expect(feed(g, [45, 45], 200)).toEqual(['enter']); // margin capped at 50 m
  });

  test('invalid fixes are ignored', () => {
    const g = new Geofences();
    g.set(home);
    const invalid: Fix = { ...fixAt(0), valid: false, fixType: 'none' };
    expect(g.update(invalid)).toEqual([]);
    expect(g.update(invalid)).toEqual([]);
    expect(g.inside()).toEqual([]);
  });

  test('several fences are tracked independently', () => {
    const g = new Geofences({ confirmFixes: 1 });
    g.set(home);
    g.set({ id: 'pharmacy', lat: C.lat + (400 / EARTH_RADIUS_M) * (180 / Math.PI), lon: C.lon, radiusM: 50 });
    expect(g.update(fixAt(0)).map((e) => `${e.type}:${e.fenceId}`)).toEqual(['enter:home-17']);
    expect(g.update(fixAt(400)).map((e) => `${e.type}:${e.fenceId}`)).toEqual(['leave:home-17', 'enter:pharmacy']);
  });

  test('set keeps state for the same geometry, resets it for a new one; clear removes', () => {
    const g = new Geofences({ confirmFixes: 1 });
    g.set(home);
    feed(g, [0]);
    g.set({ ...home });
    expect(g.inside()).toEqual(['home-17']);
    g.set({ ...home, radiusM: 200 });
    expect(g.inside()).toEqual([]);
    expect(feed(g, [0])).toEqual(['enter']);
    g.clear('home-17');
    expect(g.inside()).toEqual([]);
    expect(feed(g, [500])).toEqual([]);
    g.set(home);
    g.set({ ...home, id: 'other' });
    g.clear();
    expect(feed(g, [0])).toEqual([]);
  });

  test('a fence without a positive radius is refused with its id in the message', () => {
    expect(() => new Geofences().set({ ...home, radiusM: 0 })).toThrow(/home-17/);
    expect(() => new Geofences({ confirmFixes: 0 })).toThrow(/confirmFixes/);
  });
});
