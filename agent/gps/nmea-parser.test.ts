// Golden tests per sentence type. "Verbatim" sentences are copied with their
// original checksums from the NMEA standard's classic examples and vendor
// manuals (u-blox protocol spec, SiRF NMEA reference, MediaTek/Quectel and
// NovAtel/Trimble documentation); the others are written by hand from the
// standard's field tables and get their checksum from `cs()` below.
import { describe, expect, test } from 'vitest';
import { parseSentence } from './nmea-parser.js';
import { FieldSet, describeFieldSet, type ParseFailure, type Sentence } from './nmea-types.js';

/** Appends a checksum, computed independently of the parser. */
function cs(body: string): string {
  let x = 0;
  for (const ch of body) x ^= ch.charCodeAt(0);
  return `$${body}*${x.toString(16).toUpperCase().padStart(2, '0')}`;
}

function ok<T extends Sentence['type']>(line: string, type: T): Extract<Sentence, { type: T }> {
  const r = parseSentence(line);
  if (!r.ok) throw new Error(`expected ${type}, got ${r.reason}: ${r.detail} for ${line}`);
  expect(r.sentence.type).toBe(type);
  return r.sentence as Extract<Sentence, { type: T }>;
}

function rejected(line: string, opts?: { requireChecksum?: boolean }): { reason: ParseFailure; detail: string } {
  const r = parseSentence(line, opts);
  if (r.ok) throw new Error(`expected a rejection for ${line}, got ${JSON.stringify(r.sentence)}`);
  return r;
}

const hms = (h: number, m: number, s: number, ms = 0): number => ((h * 60 + m) * 60 + s) * 1000 + ms;

describe('RMC', () => {
  test('classic example (verbatim)', () => {
    const s = ok('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A', 'RMC');
    expect(s).toEqual({
      type: 'RMC',
      talker: 'GP',
      set: s.set,
      timeOfDayMs: hms(12, 35, 19),
      status: 'A',
      lat: 48.1173,
      lon: 11.516666666666667,
      speedKnots: 22.4,
      courseDeg: 84.4,
      date: { year: 1994, month: 3, day: 23 },
      magVarDeg: -3.1,
    });
    expect(describeFieldSet(s.set).sort()).toEqual(['COURSE', 'DATE', 'LATLON', 'MAGVAR', 'SPEED', 'STATUS', 'TIME']);
  });

  test('u-blox NMEA 2.3 with mode (verbatim)', () => {
    const s = ok('$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A*57', 'RMC');
    expect(s.lat).toBe(47.2852395);
    expect(s.lon).toBe(8.565253666666667);
    expect(s.timeOfDayMs).toBe(hms(8, 35, 59));
    expect(s.date).toEqual({ year: 2002, month: 12, day: 9 });
    expect(s.magVarDeg).toBeUndefined();
    expect(s.mode).toBe('A');
    expect(s.set & FieldSet.MAGVAR).toBe(0);
  });

  test('SiRF NMEA 2.2 without mode, millisecond time, western hemisphere (verbatim)', () => {
    const s = ok('$GPRMC,161229.487,A,3723.2475,N,12158.3416,W,0.13,309.62,120598,,*10', 'RMC');
    expect(s.timeOfDayMs).toBe(hms(16, 12, 29, 487));
    expect(s.lon).toBeLessThan(0);
    expect(s.date).toEqual({ year: 1998, month: 5, day: 12 });
    expect(s.mode).toBeUndefined();
  });

  test('MediaTek/Quectel (verbatim)', () => {
    const s = ok('$GPRMC,092751.000,A,5321.6802,N,00630.3371,W,0.06,31.66,280511,,,A*45', 'RMC');
    expect(s.lat).toBe(53.361336666666666);
    expect(s.lon).toBe(-6.5056183333333335);
    expect(s.date).toEqual({ year: 2011, month: 5, day: 28 });
  });

  test('acquiring: every field empty, status V, mode N (verbatim u-blox)', () => {
    const s = ok('$GPRMC,,V,,,,,,,,,,N*53', 'RMC');
    expect(s.status).toBe('V');
    expect(s.mode).toBe('N');
    for (const k of ['timeOfDayMs', 'lat', 'lon', 'speedKnots', 'courseDeg', 'date', 'magVarDeg'] as const) expect(s[k]).toBeUndefined();
    expect(s.set).toBe(FieldSet.STATUS | FieldSet.MODE);
  });

  test('NMEA 4.1: nav status field, GN talker', () => {
    const s = ok('$GNRMC,,V,,,,,,,,,,N,V*37', 'RMC');
    expect(s.talker).toBe('GN');
    expect(s.navStatus).toBe('V');
    const fix = ok(cs('GNRMC,101010.00,A,5230.12345,N,01322.54321,E,0.010,,110624,,,D,S'), 'RMC');
    expect(fix.mode).toBe('D');
    expect(fix.navStatus).toBe('S');
    expect(fix.date).toEqual({ year: 2024, month: 6, day: 11 });
  });

  test('time with a fix but V status (receiver warning) keeps the fields', () => {
    const s = ok(cs('GPRMC,000001.00,V,5230.00000,N,01320.00000,E,,,010124,,,E'), 'RMC');
    expect(s.status).toBe('V');
    expect(s.mode).toBe('E');
    expect(s.lat).toBe(52.5);
  });

  test('leap second 23:59:60 is accepted; 12:00:60 is not', () => {
    expect(ok(cs('GPRMC,235960.00,A,5230.0,N,01320.0,E,0.0,0.0,311216,,,A'), 'RMC').timeOfDayMs).toBe(86_400_000);
    expect(rejected(cs('GPRMC,120060.00,A,5230.0,N,01320.0,E,0.0,0.0,311216,,,A')).reason).toBe('malformed');
  });

  test('magnetic variation counts only with an E/W direction; without one (or with another letter) it is absent and the sentence stands, as in gpsd', () => {
    const s = ok(cs('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,'), 'RMC');
    expect(s.magVarDeg).toBeUndefined();
    expect(s.lat).toBe(48.1173);
    expect(ok(cs('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,E'), 'RMC').magVarDeg).toBe(3.1);
    expect(ok(cs('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W'), 'RMC').magVarDeg).toBe(-3.1);
    const x = ok(cs('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,X'), 'RMC');
    expect(x).toMatchObject({ magVarDeg: undefined, speedKnots: 22.4, date: { year: 1994, month: 3, day: 23 } });
  });

  test('an RMC of 11 fields without the variation\'s direction (older SiRF) keeps its date and speed; the mode is read only from a 12th field', () => {
    const s = ok(cs('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,A'), 'RMC');
    expect(s).toMatchObject({ status: 'A', lat: 48.1173, speedKnots: 22.4, courseDeg: 84.4, date: { year: 1994, month: 3, day: 23 }, magVarDeg: undefined, mode: undefined });
  });

  test('two-digit year pivot at 80', () => {
    expect(ok(cs('GPRMC,000000,A,0000.0,N,00000.0,E,0,0,010179,,,A'), 'RMC').date?.year).toBe(2079);
    expect(ok(cs('GPRMC,000000,A,0000.0,N,00000.0,E,0,0,060180,,,A'), 'RMC').date?.year).toBe(1980);
  });

  test('all-zero date reads as empty; an impossible date is malformed', () => {
    expect(ok(cs('GPRMC,000000,V,,,,,,,000000,,,N'), 'RMC').date).toBeUndefined();
    expect(rejected(cs('GPRMC,000000,V,,,,,,,300223,,,N')).detail).toMatch(/field 9 \(DATE\)/);
    expect(ok(cs('GPRMC,000000,V,,,,,,,290224,,,N'), 'RMC').date).toEqual({ year: 2024, month: 2, day: 29 });
    expect(rejected(cs('GPRMC,000000,V,,,,,,,290223,,,N')).reason).toBe('malformed');
  });
});

describe('GGA', () => {
  test('classic example (verbatim)', () => {
    expect(ok('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47', 'GGA')).toMatchObject({
      talker: 'GP',
      timeOfDayMs: hms(12, 35, 19),
      lat: 48.1173,
      lon: 11.516666666666667,
      quality: 1,
      satsUsed: 8,
      hdop: 0.9,
      altitudeM: 545.4,
      geoidSepM: 46.9,
      diffAgeS: undefined,
      diffStation: undefined,
    });
  });

  test('SiRF with negative geoid separation and diff station (verbatim)', () => {
    const s = ok('$GPGGA,002153.000,3342.6618,N,11751.3858,W,1,10,1.2,27.0,M,-34.2,M,,0000*5E', 'GGA');
    expect(s.geoidSepM).toBe(-34.2);
    expect(s.diffStation).toBe('0000');
    expect(s.diffAgeS).toBeUndefined();
  });

  test('DGPS with 8 minute decimals keeps 1e-9 degree precision (verbatim NovAtel)', () => {
    const s = ok('$GPGGA,172814.0,3723.46587704,N,12202.26957864,W,2,6,1.2,18.893,M,-25.669,M,2.0,0031*4F', 'GGA');
    expect(s.lat).toBe(37.39109795066667);
    expect(s.lon).toBe(-122.03782631066667);
    expect(s.quality).toBe(2);
    expect(s.diffAgeS).toBe(2);
    expect(s.diffStation).toBe('0031');
  });

  test('MediaTek zero-padded altitude (verbatim)', () => {
    const s = ok('$GPGGA,015540.000,3150.68378,N,11711.93139,E,1,17,0.6,0051.6,M,0.0,M,,*58', 'GGA');
    expect(s.altitudeM).toBe(51.6);
    expect(s.satsUsed).toBe(17);
  });

  test('no fix (verbatim u-blox): quality 0, empty position is undefined, not 0', () => {
    const s = ok('$GPGGA,,,,,,0,00,99.99,,,,,,*48', 'GGA');
    expect(s.quality).toBe(0);
    expect(s.lat).toBeUndefined();
    expect(s.altitudeM).toBeUndefined();
    expect(s.hdop).toBe(99.99);
  });

  test('too few fields is malformed and says so', () => {
    expect(rejected(cs('GPGGA,123519,4807.038,N,01131.000,E,1')).detail).toMatch(/GGA needs at least 12 data fields, got 6/);
  });

  test('latitude without hemisphere, minutes ≥ 60 and > 90° are malformed', () => {
    expect(rejected(cs('GPGGA,123519,4807.038,,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')).detail).toMatch(/hemisphere/);
    expect(rejected(cs('GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')).reason).toBe('malformed');
    expect(rejected(cs('GPGGA,123519,9107.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')).reason).toBe('malformed');
    expect(rejected(cs('GPGGA,123519,4807.038,N,18131.000,E,1,08,0.9,545.4,M,46.9,M,,')).reason).toBe('malformed');
  });

  test('a non-numeric field names the field', () => {
    expect(rejected(cs('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,5x5.4,M,46.9,M,,')).detail).toBe(
      'GGA field 9 (ALTITUDE): not a number, got "5x5.4"',
    );
  });
});

describe('GSA', () => {
  test('classic example with gaps between PRNs (verbatim)', () => {
    expect(ok('$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39', 'GSA')).toMatchObject({
      selectionMode: 'A',
      fixMode: 3,
      prns: [4, 5, 9, 12, 24],
      pdop: 2.5,
      hdop: 1.3,
      vdop: 2.1,
      systemId: undefined,
    });
  });

  test('u-blox and SiRF (verbatim)', () => {
    expect(ok('$GPGSA,A,3,23,29,07,08,09,18,26,28,,,,,1.94,1.18,1.54*0D', 'GSA').prns).toHaveLength(8);
    expect(ok('$GPGSA,A,3,07,02,26,27,09,04,15,,,,,,1.8,1.0,1.5*33', 'GSA').vdop).toBe(1.5);
  });

  test('no fix (verbatim)', () => {
    const s = ok('$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99*30', 'GSA');
    expect(s.fixMode).toBe(1);
    expect(s.prns).toEqual([]);
  });

  test('NMEA 4.1 system id per constellation', () => {
    expect(ok(cs('GNGSA,A,3,05,13,15,18,20,23,24,,,,,,1.52,0.83,1.27,1'), 'GSA').systemId).toBe(1);
    expect(ok(cs('GNGSA,A,3,65,71,72,,,,,,,,,,1.52,0.83,1.27,2'), 'GSA').systemId).toBe(2);
    expect(ok(cs('GNGSA,A,3,,,,,,,,,,,,,1.52,0.83,1.27,4'), 'GSA')).toMatchObject({ systemId: 4, pdop: 1.52, hdop: 0.83, vdop: 1.27 });
  });

  test('more than 12 PRN slots (some multi-GNSS firmware)', () => {
    const s = ok(cs('GNGSA,A,3,1,2,3,4,5,6,7,8,9,10,11,12,13,14,1.1,0.7,0.9'), 'GSA');
    expect(s.prns).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(s).toMatchObject({ pdop: 1.1, hdop: 0.7, vdop: 0.9, systemId: undefined });
  });
});

describe('GSV', () => {
  test('classic example (verbatim)', () => {
    const s = ok('$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75', 'GSV');
    expect(s).toMatchObject({ totalMessages: 2, messageNumber: 1, satsInView: 8, signalId: undefined });
    expect(s.satellites[0]).toEqual({ prn: 1, elevationDeg: 40, azimuthDeg: 83, snrDb: 46 });
    expect(s.satellites).toHaveLength(4);
  });

  test('untracked satellites have undefined SNR; last message with fewer groups', () => {
    const s = ok(cs('GPGSV,3,3,10,10,05,248,,32,28,052,'), 'GSV');
    expect(s.satellites).toEqual([
      { prn: 10, elevationDeg: 5, azimuthDeg: 248, snrDb: undefined },
      { prn: 32, elevationDeg: 28, azimuthDeg: 52, snrDb: undefined },
    ]);
  });

  test('NMEA 4.1 signal id', () => {
    const s = ok(cs('GPGSV,3,1,10,05,16,040,33,13,28,290,34,15,51,234,41,18,57,101,43,1'), 'GSV');
    expect(s.signalId).toBe(1);
    expect(s.satellites).toHaveLength(4);
    expect(ok(cs('GAGSV,1,1,00,7'), 'GSV')).toMatchObject({ satsInView: 0, satellites: [], signalId: 7 });
  });

  test('no satellites, and GLONASS/BeiDou talkers', () => {
    expect(ok(cs('GPGSV,1,1,00'), 'GSV').satellites).toEqual([]);
    expect(ok(cs('GLGSV,1,1,02,65,40,120,35,72,12,300,'), 'GSV').talker).toBe('GL');
    expect(ok(cs('BDGSV,1,1,01,201,40,120,35'), 'GSV').satellites[0].prn).toBe(201);
    expect(ok(cs('GBGSV,1,1,01,21,40,120,35'), 'GSV').talker).toBe('GB');
  });
});

describe('VTG, GLL, ZDA, GST, GNS, TXT', () => {
  test('VTG classic and 2.3 with empty magnetic course (verbatim)', () => {
    expect(ok('$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48', 'VTG')).toMatchObject({ courseTrueDeg: 54.7, courseMagDeg: 34.4, speedKnots: 5.5, speedKmh: 10.2, mode: undefined });
    expect(ok('$GPVTG,77.52,T,,M,0.004,N,0.008,K,A*06', 'VTG')).toMatchObject({ courseMagDeg: undefined, mode: 'A' });
    expect(ok('$GPVTG,,,,,,,,,N*30', 'VTG')).toMatchObject({ courseTrueDeg: undefined, speedKnots: undefined, mode: 'N' });
  });

  test('GLL in three generations (verbatim)', () => {
    expect(ok('$GPGLL,4916.45,N,12311.12,W,225444,A,*1D', 'GLL')).toMatchObject({ lat: 49.274166666666666, lon: -123.18533333333333, timeOfDayMs: hms(22, 54, 44), status: 'A', mode: undefined });
    expect(ok('$GPGLL,4717.11364,N,00833.91565,E,092321.00,A,A*60', 'GLL').mode).toBe('A');
    expect(ok('$GPGLL,3723.2475,N,12158.3416,W,161229.487,A,A*41', 'GLL').timeOfDayMs).toBe(hms(16, 12, 29, 487));
    expect(ok('$GPGLL,,,,,,V,N*64', 'GLL')).toMatchObject({ lat: undefined, status: 'V', mode: 'N' });
  });

  test('ZDA with and without date (verbatim)', () => {
    expect(ok('$GPZDA,082710.00,16,09,2002,00,00*64', 'ZDA')).toMatchObject({ timeOfDayMs: hms(8, 27, 10), date: { year: 2002, month: 9, day: 16 }, zoneHours: 0, zoneMinutes: 0 });
    expect(ok('$GPZDA,181813,14,10,2003,00,00*4F', 'ZDA').date).toEqual({ year: 2003, month: 10, day: 14 });
    expect(ok('$GPZDA,,,,,00,00*48', 'ZDA')).toMatchObject({ timeOfDayMs: undefined, date: undefined });
    expect(ok(cs('GPZDA,120000.00,01,01,2024,-05,30'), 'ZDA').zoneHours).toBe(-5);
  });

  test('GST (verbatim u-blox and NovAtel)', () => {
    expect(ok('$GPGST,082356.00,1.8,,,,1.7,1.3,2.2*7E', 'GST')).toMatchObject({ rmsM: 1.8, semiMajorM: undefined, latSdM: 1.7, lonSdM: 1.3, altSdM: 2.2 });
    expect(ok('$GPGST,172814.0,0.006,0.023,0.020,273.6,0.023,0.020,0.031*6A', 'GST')).toMatchObject({ semiMajorM: 0.023, orientationDeg: 273.6 });
  });

  test('GNS with per-constellation modes (verbatim) and 4.1 nav status', () => {
    const s = ok('$GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,*70', 'GNS');
    expect(s).toMatchObject({ lat: -43.544877, lon: 172.59142483333332, modes: ['R', 'R'], satsUsed: 13, altitudeM: 25.63, geoidSepM: 11.24, navStatus: undefined });
    expect(ok(cs('GNGNS,091547.00,5114.50897,N,00012.28663,W,AANN,10,0.83,111.1,45.6,,,V'), 'GNS')).toMatchObject({ modes: ['A', 'A', 'N', 'N'], navStatus: 'V', lon: -0.20477716666666668 });
    expect(ok(cs('GNGNS,,,,,,NNNNNN,00,99.99,,,,,V'), 'GNS').modes).toEqual(['N', 'N', 'N', 'N', 'N', 'N']);
  });

  test('TXT (verbatim u-blox) and ^hh escapes', () => {
    expect(ok('$GPTXT,01,01,02,u-blox ag - www.u-blox.com*50', 'TXT')).toMatchObject({ textId: 2, text: 'u-blox ag - www.u-blox.com' });
    expect(ok('$GPTXT,01,01,02,ANTSTATUS=OK*3B', 'TXT').text).toBe('ANTSTATUS=OK');
    expect(ok(cs('GNTXT,01,01,02,a^2Cb^5E'), 'TXT').text).toBe('a,b^');
  });
});

describe('framing', () => {
  const rmc = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';

  test('terminators and lower-case checksum are accepted', () => {
    expect(parseSentence(`${rmc}\r\n`).ok).toBe(true);
    expect(parseSentence(`${rmc}\u0000\u0000`).ok).toBe(true);
    expect(parseSentence(rmc.replace('*6A', '*6a')).ok).toBe(true);
  });

  test('empty, no start, too long', () => {
    expect(rejected('').reason).toBe('empty');
    expect(rejected('\r\n').reason).toBe('empty');
    expect(rejected('GPRMC,123519,A*00').reason).toBe('no-start');
    expect(rejected(cs(`GPTXT,01,01,02,${'x'.repeat(120)}`)).reason).toBe('too-long');
    expect(rejected('x'.repeat(100_000)).reason).toBe('too-long');
    // Up to 120 characters is tolerated (standard: 82 with CR LF).
    const long = cs(`GPTXT,01,01,02,${'x'.repeat(100)}`);
    expect(long.length).toBeGreaterThan(82);
    expect(parseSentence(long).ok).toBe(true);
  });

  test('checksum: wrong, missing, malformed', () => {
    expect(rejected(rmc.replace('*6A', '*6B'))).toMatchObject({ reason: 'bad-checksum', detail: 'checksum 6B does not match computed 6A' });
    expect(rejected(rmc.slice(0, -3)).reason).toBe('missing-checksum');
    expect(rejected(rmc.replace('*6A', '*6')).reason).toBe('malformed');
    expect(rejected(rmc.replace('*6A', '*6G')).reason).toBe('malformed');
  });

  test('without checksum only when allowed', () => {
    const r = parseSentence(rmc.slice(0, -3), { requireChecksum: false });
    expect(r.ok && r.sentence.type === 'RMC' && r.sentence.lat).toBe(48.1173);
    // A checksum present is still verified.
    expect(rejected(rmc.replace('*6A', '*00'), { requireChecksum: false }).reason).toBe('bad-checksum');
    // Field counts still guard truncated lines.
    expect(rejected('$GPRMC,123519,A,4807.038,N', { requireChecksum: false }).reason).toBe('malformed');
  });

  test('power-up garbage and splices: parsing starts at the last $', () => {
    expect(ok(`\u0000\u00ff\u00fe~~${rmc}`, 'RMC').lat).toBe(48.1173);
    expect(ok(`$GPGGA,1235${rmc}`, 'RMC').talker).toBe('GP');
    expect(rejected(`${rmc.slice(0, 30)}\u00ff${rmc.slice(31)}`).reason).toBe('bad-checksum');
  });

  test('non-printable characters inside a checksummed sentence are malformed', () => {
    expect(rejected(cs('GPTXT,01,01,02,a\u0001b')).detail).toMatch(/non-printable character 0x01/);
  });

  test('proprietary, unknown and bad address', () => {
    expect(rejected('$PUBX,00,081350.00,4717.113210,N,00833.915187,E,546.589,G3,2.1,2.0,0.007,77.52,0.007,,0.92,1.19,0.77,9,0,0*5F')).toMatchObject({ reason: 'proprietary', detail: 'PUBX' });
    expect(rejected(cs('PMTK001,314,3')).detail).toBe('PMTK001');
    expect(rejected(cs('GPXTE,A,A,0.67,L,N')).reason).toBe('unknown');
    expect(rejected('!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C').reason).toBe('unknown');
    expect(rejected(cs('GPACCURACY,0.9')).reason).toBe('unknown');
    expect(rejected(cs('gprmc,1')).reason).toBe('malformed');
    expect(rejected(cs('G,1')).reason).toBe('malformed');
    expect(rejected(cs('GP-MC,1')).reason).toBe('malformed');
  });

  test('non-string input does not throw', () => {
    expect(parseSentence(42 as unknown as string).ok).toBe(false);
  });
});
