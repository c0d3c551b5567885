import { describe, expect, test } from 'vitest';
import { FixAssembler, MAX_EPOCH_SENTENCES } from './fix-assembler.js';
import type { Fix } from './fix.js';
import { parseSentence } from './nmea-parser.js';

function cs(body: string): string {
  let x = 0;
  for (const ch of body) x ^= ch.charCodeAt(0);
  return `$${body}*${x.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Feeds sentences (bodies without $ and checksum) and collects every fix, flushing at the end. */
function run(bodies: string[], assembler = new FixAssembler()): Fix[] {
  const fixes: Fix[] = [];
  for (const body of bodies) {
    const r = parseSentence(cs(body));
    if (!r.ok) throw new Error(`test sentence rejected: ${r.detail}: ${body}`);
    const fix = assembler.push(r.sentence);
    if (fix) fixes.push(fix);
  }
  const last = assembler.flush();
  if (last) fixes.push(last);
  return fixes;
}

const KNOT = 1852 / 3600;

/** One u-blox NMEA 4.1 cycle at hhmmss on ddmmyy. */
function ubloxEpoch(time: string, date: string): string[] {
  return [
    `GNRMC,${time}.00,A,5230.00000,N,01320.00000,E,1.000,90.0,${date},,,A,V`,
    'GNVTG,90.0,T,,M,1.000,N,1.852,K,A',
    `GNGGA,${time}.00,5230.00000,N,01320.00000,E,1,09,0.90,35.0,M,44.9,M,,`,
    'GNGSA,A,3,05,13,15,18,20,23,,,,,,,1.60,0.90,1.30,1',
    'GNGSA,A,3,65,71,72,,,,,,,,,,1.60,0.90,1.30,2',
    'GPGSV,3,1,10,05,16,040,33,13,28,290,34,15,51,234,41,18,57,101,43,1',
    'GPGSV,3,2,10,20,10,310,25,23,60,180,44,24,05,020,,25,30,100,30,1',
    'GPGSV,3,3,10,26,02,200,,29,15,250,20,1',
    'GLGSV,2,1,07,65,40,120,35,71,12,300,28,72,50,010,40,73,05,090,,1',
    'GLGSV,2,2,07,80,20,180,22,81,33,270,31,82,08,330,,1',
    `GNGLL,5230.00000,N,01320.00000,E,${time}.00,A,A`,
  ];
}

describe('epoch merging', () => {
  test('one u-blox cycle becomes one fix with every quantity from its best source', () => {
    const fixes = run([...ubloxEpoch('101010', '110624'), ...ubloxEpoch('101011', '110624')]);
    expect(fixes).toHaveLength(2);
    expect(fixes[0]).toEqual({
      time: Date.UTC(2024, 5, 11, 10, 10, 10),
      timeOfDayMs: (10 * 3600 + 10 * 60 + 10) * 1000,
      lat: 52.5,
      lon: 13 + 1 / 3,
      altitudeM: 35,
      speedMps: KNOT,
      courseDeg: 90,
      fixType: '3d',
      valid: true,
      satsUsed: 9,
      satsInView: 17,
      hdop: 0.9,
      pdop: 1.6,
      vdop: 1.3,
      accuracyM: 4.5,
      accuracySource: 'hdop',
      talkers: ['GL', 'GN', 'GP'],
      sources: ['GNRMC', 'GNVTG', 'GNGGA', 'GNGSA', 'GPGSV', 'GLGSV', 'GNGLL'],
    });
    expect(fixes[1].time).toBe(Date.UTC(2024, 5, 11, 10, 10, 11));
  });

  test('SiRF order (GGA, GSA, GSV, RMC) merges the same way', () => {
    const epoch = (t: string) => [
      `GPGGA,${t}.000,3723.2475,N,12158.3416,W,1,07,1.0,9.0,M,,,,0000`,
      'GPGSA,A,3,07,02,26,27,09,04,15,,,,,,1.8,1.0,1.5',
      'GPGSV,2,1,07,07,79,048,42,02,51,062,43,26,36,256,42,27,27,138,42',
      `GPRMC,${t}.000,A,3723.2475,N,12158.3416,W,0.13,309.62,120598,,`,
    ];
    const fixes = run([...epoch('161229'), ...epoch('161230')]);
    expect(fixes.map((f) => f.sources)).toEqual([
      ['GPGGA', 'GPGSA', 'GPGSV', 'GPRMC'],
      ['GPGGA', 'GPGSA', 'GPGSV', 'GPRMC'],
    ]);
    expect(fixes[0]).toMatchObject({ time: Date.UTC(1998, 4, 12, 16, 12, 29), fixType: '3d', satsUsed: 7, satsInView: 7, speedMps: 0.13 * KNOT });
  });

  test('acquiring receivers with empty time fields still give one fix per cycle', () => {
    const cycle = ['GPRMC,,V,,,,,,,,,,N', 'GPVTG,,,,,,,,,N', 'GPGGA,,,,,,0,00,99.99,,,,,,', 'GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99', 'GPGSV,1,1,01,05,16,040,'];
    const fixes = run([...cycle, ...cycle, ...cycle]);
    expect(fixes).toHaveLength(3);
    for (const f of fixes) {
      expect(f).toMatchObject({ time: undefined, valid: false, fixType: 'none', satsInView: 1, satsUsed: 0 });
      expect(f.lat).toBeUndefined();
    }
  });

  test('4.1 signal ids list satellites once per signal: count the largest list per constellation', () => {
    const fixes = run([
      'GNGGA,120000.00,5230.0,N,01320.0,E,1,09,0.9,35.0,M,44.9,M,,',
      'GPGSV,1,1,04,05,16,040,33,13,28,290,34,15,51,234,41,18,57,101,43,1',
      'GPGSV,1,1,02,05,16,040,30,13,28,290,31,8',
      'GAGSV,1,1,03,02,16,040,33,07,28,290,34,11,51,234,41,7',
    ]);
    expect(fixes[0].satsInView).toBe(7);
  });

  test('without GGA, satellites used are the GSA lists summed over constellations', () => {
    const fixes = run([
      'GNRMC,120000.00,A,5230.0,N,01320.0,E,0.0,,010124,,,A,V',
      'GNGSA,A,3,05,13,15,,,,,,,,,,1.6,0.9,1.3,1',
      'GNGSA,A,3,65,71,,,,,,,,,,,1.6,0.9,1.3,2',
    ]);
    expect(fixes[0]).toMatchObject({ satsUsed: 5, fixType: '3d', hdop: 0.9, altitudeM: undefined });
  });

  test('receiver text alone is not an epoch; the text joins the epoch in progress', () => {
    expect(run(['GPTXT,01,01,02,u-blox ag - www.u-blox.com'])).toEqual([]);
    const fixes = run(['GPTXT,01,01,02,ANTSTATUS=OK', 'GPRMC,120000,A,5230.0,N,01320.0,E,0,0,010124,,,A']);
    expect(fixes).toHaveLength(1);
    expect(fixes[0].sources).toEqual(['GPRMC']);
  });

  test('a stream of timeless sentences alone is cut into bounded epochs', () => {
    const fixes = run(Array.from({ length: MAX_EPOCH_SENTENCES * 3 }, () => 'GPGSV,1,1,01,05,16,040,30'));
    expect(fixes).toHaveLength(3);
    expect(fixes.every((f) => f.satsInView === 1 && !f.valid)).toBe(true);
  });

  test('flush on an empty assembler returns nothing', () => {
    expect(new FixAssembler().flush()).toBeUndefined();
  });
});

describe('fix type and validity', () => {
  const at = (gga: string, extra: string[] = []) => run([gga, ...extra])[0];

  test('GGA quality maps to the fix type', () => {
    expect(at('GPGGA,120000,5230.0,N,01320.0,E,2,09,0.9,35.0,M,44.9,M,3.0,0120').fixType).toBe('dgps');
    expect(at('GPGGA,120000,5230.0,N,01320.0,E,4,09,0.9,35.0,M,44.9,M,1.0,0120').fixType).toBe('rtk');
    expect(at('GPGGA,120000,5230.0,N,01320.0,E,5,09,0.9,35.0,M,44.9,M,1.0,0120').fixType).toBe('rtk');
    expect(at('GPGGA,120000,5230.0,N,01320.0,E,7,00,,35.0,M,44.9,M,,')).toMatchObject({ fixType: 'none', valid: false });
  });

  test('estimated (dead reckoning) counts as a fix but is flagged', () => {
    const f = at('GPGGA,120000,5230.0,N,01320.0,E,6,00,,35.0,M,44.9,M,,', ['GPRMC,120000,A,5230.0,N,01320.0,E,0.5,10,010124,,,E']);
    expect(f).toMatchObject({ fixType: 'estimated', valid: true, lat: 52.5 });
  });

  test('a GGA with quality 1 but fewer than 3 satellites used is no fix, as gpsd has it (Hemisphere without a solution)', () => {
    expect(at('GPGGA,123519,4807.038,N,01131.000,E,1,00,0.9,545.4,M,46.9,M,,')).toMatchObject({ valid: false, fixType: 'none', lat: undefined, satsUsed: 0 });
    expect(at('GPGGA,123519,4807.038,N,01131.000,E,2,02,0.9,545.4,M,46.9,M,,')).toMatchObject({ valid: false, fixType: 'none' });
    expect(at('GPGGA,123519,4807.038,N,01131.000,E,1,,0.9,545.4,M,46.9,M,,')).toMatchObject({ valid: false });
    // It vetoes the epoch: an RMC of the same epoch saying A does not make it a fix.
    expect(at('GPGGA,123519,4807.038,N,01131.000,E,1,00,0.9,545.4,M,46.9,M,,', ['GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,E'])).toMatchObject({ valid: false });
    expect(at('GPGGA,123519,4807.038,N,01131.000,E,1,03,0.9,545.4,M,46.9,M,,')).toMatchObject({ valid: true, lat: 48.1173 });
  });

  test('an 11-field RMC (no variation direction) gives the epoch its date and speed', () => {
    const f = at('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,A');
    expect(f).toMatchObject({ valid: true, time: Date.UTC(1994, 2, 23, 12, 35, 19), lat: 48.1173 });
    expect(f.speedMps).toBeCloseTo(22.4 * 1852 / 3600, 9);
  });

  test('GSA decides 2D against 3D', () => {
    expect(at('GPGGA,120000,5230.0,N,01320.0,E,1,03,2.0,,M,,M,,', ['GPGSA,A,2,05,13,15,,,,,,,,,,2.5,2.0,']).fixType).toBe('2d');
  });

  test('a V status or mode N anywhere in the epoch means no fix, and no position is reported', () => {
    const f = at('GPGGA,120000,5230.0,N,01320.0,E,1,09,0.9,35.0,M,44.9,M,,', ['GPRMC,120000,V,5230.0,N,01320.0,E,,,010124,,,N']);
    expect(f).toMatchObject({ valid: false, fixType: 'none', lat: undefined, lon: undefined, altitudeM: undefined, accuracyM: undefined });
    expect(f.time).toBe(Date.UTC(2024, 0, 1, 12));
    expect(at('GPRMC,120000,A,5230.0,N,01320.0,E,,,010124,,,N')).toMatchObject({ valid: false });
    expect(at('GNGNS,120000,5230.0,N,01320.0,E,NN,00,,,,,,V')).toMatchObject({ valid: false });
    expect(at('GNGNS,120000,5230.0,N,01320.0,E,NA,07,1.1,30.0,40.0,,,S')).toMatchObject({ valid: true, fixType: '3d' });
    expect(at('GPGLL,5230.0,N,01320.0,E,120000,V,N')).toMatchObject({ valid: false });
    expect(at('GPGLL,5230.0,N,01320.0,E,120000,A,D')).toMatchObject({ valid: true, fixType: 'dgps', lat: 52.5 });
  });

  test('accuracy from GST standard deviations when present, else HDOP × 5 m', () => {
    const gga = 'GPGGA,120000,5230.0,N,01320.0,E,1,09,1.2,35.0,M,44.9,M,,';
    expect(at(gga, ['GPGST,120000,1.8,,,,1.7,1.3,2.2'])).toMatchObject({ accuracyM: Math.hypot(1.7, 1.3), accuracySource: 'gst' });
    expect(at(gga)).toMatchObject({ accuracyM: 6, accuracySource: 'hdop' });
    expect(at(gga, ['GPGST,120000,1.8,,,,,,'])).toMatchObject({ accuracyM: 6, accuracySource: 'hdop' });
  });

  test('VTG supplies speed and course when RMC is absent', () => {
    expect(at('GPGGA,120000,5230.0,N,01320.0,E,1,09,0.9,35.0,M,44.9,M,,', ['GPVTG,45.0,T,,M,,N,3.6,K,A'])).toMatchObject({ speedMps: 1, courseDeg: 45 });
  });
});

describe('dates', () => {
  const gga = (t: string) => `GPGGA,${t},5230.0,N,01320.0,E,1,09,0.9,35.0,M,44.9,M,,`;
  const rmc = (t: string, d: string) => `GPRMC,${t},A,5230.0,N,01320.0,E,0.0,0.0,${d},,,A`;

  test('no date seen yet: time is undefined but the time of day is kept', () => {
    expect(run([gga('120000')])[0]).toMatchObject({ time: undefined, timeOfDayMs: 43_200_000 });
  });

  test('epochs without a date take the last one and roll over at midnight', () => {
    const fixes = run([rmc('235958', '311224'), gga('235959'), gga('000000'), gga('000001')]);
    expect(fixes.map((f) => f.time)).toEqual([
      Date.UTC(2024, 11, 31, 23, 59, 58),
      Date.UTC(2024, 11, 31, 23, 59, 59),
      Date.UTC(2025, 0, 1, 0, 0, 0),
      Date.UTC(2025, 0, 1, 0, 0, 1),
    ]);
  });

  test('a date arriving after the rollover agrees with it', () => {
    const fixes = run([rmc('235959', '280224'), gga('000000'), rmc('000001', '290224')]);
    expect(fixes.map((f) => f.time)).toEqual([Date.UTC(2024, 1, 28, 23, 59, 59), Date.UTC(2024, 1, 29), Date.UTC(2024, 1, 29, 0, 0, 1)]);
  });

  test('a small step back in time (receiver reset) does not advance the date', () => {
    const fixes = run([rmc('120000', '010124'), gga('115959')]);
    expect(fixes[1].time).toBe(Date.UTC(2024, 0, 1, 11, 59, 59));
  });

  test('ZDA four-digit year wins over RMC', () => {
    const fixes = run([rmc('120000', '010180'), 'GPZDA,120000.00,01,01,2024,00,00']);
    expect(fixes[0].time).toBe(Date.UTC(2024, 0, 1, 12));
  });

  test('leap second 23:59:60 is its own epoch at 23:59:59.999, and time stays monotonic', () => {
    const fixes = run([rmc('235959', '311216'), gga('235959'), rmc('235960', '311216'), gga('235960.5'), rmc('000000', '010117')]);
    expect(fixes).toHaveLength(4); // 23:59:60 and 23:59:60.5 are distinct epochs
    expect(fixes.map((f) => f.time)).toEqual([
      Date.UTC(2016, 11, 31, 23, 59, 59),
      Date.UTC(2016, 11, 31, 23, 59, 59, 999),
      Date.UTC(2016, 11, 31, 23, 59, 59, 999),
      Date.UTC(2017, 0, 1),
    ]);
    expect(fixes.map((f) => f.leapSecond === true)).toEqual([false, true, true, false]);
    expect(fixes[1].timeOfDayMs).toBe(86_400_000);
  });

  test('leap second followed by an epoch without a date still rolls over', () => {
    const fixes = run([rmc('235960', '311216'), gga('000000')]);
    expect(fixes[1].time).toBe(Date.UTC(2017, 0, 1));
  });
});
