import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkGpx11, readGpxPositions } from '../../test/support/gpx.js';
import { parseCsv, readCsvPositions, readGeoJsonPositions } from '../../test/support/csv.js';
import { parseXml } from '../../test/support/xml.js';
import type { PositionView } from '../store/index.js';
import { decimal, toCsv, toGeoJson, toGpx } from './position-export.js';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

const position: fc.Arbitrary<PositionView> = fc.record(
  {
    deviceId: fc.constant('dev-1'),
    msgId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    fixTime: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    rx: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    lat: fc.double({ min: -90, max: 90, noNaN: true }),
    lon: fc.double({ min: -180, max: 180, noNaN: true }),
    altM: fc.double({ min: -500, max: 9000, noNaN: true }),
    speedMps: fc.double({ min: 0, max: 100, noNaN: true }),
    courseDeg: fc.double({ min: 0, max: 360, noNaN: true }),
    accuracyM: fc.double({ min: 0, max: 1e4, noNaN: true }),
    fixType: fc.constantFrom('none', '2d', '3d', 'dgps', 'rtk', 'estimated'),
    satsUsed: fc.integer({ min: 0, max: 64 }),
    clock: fc.constantFrom('system', 'gps', 'unsynced'),
    stale: fc.boolean(),
    reason: fc.constantFrom('first', 'interval', 'displacement', 'locate', 'burst'),
    backfill: fc.boolean(),
  },
  { requiredKeys: ['deviceId', 'msgId', 'fixTime', 'rx', 'ts', 'lat', 'lon', 'fixType', 'stale', 'backfill'] },
).map((p) => {
  // -0 has no text form of its own in any of the formats (CSV, XML, JSON all write 0).
  for (const k of ['lat', 'lon', 'altM', 'speedMps', 'courseDeg', 'accuracyM'] as const) if (Object.is(p[k], -0)) p[k] = 0;
  return p as PositionView;
});

describe('decimal', () => {
  it('writes exponent forms in plain notation with the same digits', () => {
    expect(decimal(1e-7)).toBe('0.0000001');
    expect(decimal(-1.5e-9)).toBe('-0.0000000015');
    expect(decimal(1.25e21)).toBe('1250000000000000000000');
    expect(decimal(52.52)).toBe('52.52');
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
      const s = decimal(n);
      expect(s).toMatch(/^-?\d+(\.\d+)?$/);
      expect(Number(s)).toBe(Object.is(n, -0) ? 0 : n);
    }));
  });
});

describe('position exports round-trip', () => {
  it('GPX 1.1: conforms to the schema structure and parses back to the same points', () => {
    fc.assert(fc.property(fc.array(position, { maxLength: 20 }), (ps) => {
      const doc = parseXml(toGpx('dev-1', ps, T0));
      expect(checkGpx11(doc)).toEqual([]);
      expect(readGpxPositions(doc)).toEqual(ps);
    }), { numRuns: 200 });
  });

  it('GPX: longitude 180 is written as -180 (GPX excludes 180) and read back as 180', () => {
    const p: PositionView = { deviceId: 'd', msgId: 'm', fixTime: T0, rx: T0, ts: T0, lat: 0, lon: 180, fixType: '3d', stale: false, backfill: false };
    const doc = parseXml(toGpx('d', [p], T0));
    expect(checkGpx11(doc)).toEqual([]);
    expect(doc.children[1].children[1].children[0].attrs.lon).toBe('-180');
    expect(readGpxPositions(doc)).toEqual([p]);
  });

  it('the GPX check finds structural faults (it is not a rubber stamp)', () => {
    const p: PositionView = { deviceId: 'd', msgId: 'm', fixTime: T0, rx: T0, ts: T0, lat: 1, lon: 2, altM: 3, satsUsed: 4, fixType: '3d', stale: false, backfill: false };
    const good = toGpx('d', [p], T0);
    const swapped = good.replace(/<ele>3<\/ele>(<time>[^<]+<\/time>)/, '$1<ele>3</ele>');
    expect(checkGpx11(parseXml(swapped)).join()).toMatch(/<ele> is not allowed here/);
    expect(checkGpx11(parseXml(good.replace('version="1.1"', 'version="1.0"'))).join()).toMatch(/version/);
    expect(checkGpx11(parseXml(good.replace('<fix>3d</fix>', '<fix>rtk</fix>'))).join()).toMatch(/fix "rtk"/);
    expect(checkGpx11(parseXml(good.replace('lon="2"', 'lon="1e0"'))).join()).toMatch(/not an xsd:decimal/);
    expect(checkGpx11(parseXml(good.replace('<nrec:msgId>m</nrec:msgId>', '<nrec:msgId>m</nrec:msgId><sym>x</sym>'))).join()).toMatch(/another namespace/);
    expect(() => parseXml(good.replace('</trkseg>', ''))).toThrow(/closes/);
  });

  it('CSV (RFC 4180): parses back to the same points, with a header and ISO times', () => {
    fc.assert(fc.property(fc.array(position, { maxLength: 20 }), (ps) => {
      const text = toCsv(ps);
      expect(text.endsWith('\r\n')).toBe(true);
      const rows = parseCsv(text);
      expect(rows[0][0]).toBe('device_id');
      expect(rows.every((r) => r.length === rows[0].length)).toBe(true);
      expect(readCsvPositions(text)).toEqual(ps);
    }), { numRuns: 200 });
  });

  it('GeoJSON: Point features ([lon, lat, alt]) that parse back to the same points, with a bbox', () => {
    fc.assert(fc.property(fc.array(position, { maxLength: 20 }), (ps) => {
      const doc = JSON.parse(JSON.stringify(toGeoJson(ps)));
      expect(readGeoJsonPositions(doc)).toEqual(ps);
      if (ps.length > 0) {
        const [w, s, e, n] = doc.bbox as number[];
        for (const p of ps) expect(p.lon >= w && p.lon <= e && p.lat >= s && p.lat <= n).toBe(true);
      }
    }), { numRuns: 200 });
  });
});
