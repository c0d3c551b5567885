// Property tests: the parser never throws, accepts nothing whose checksum does
// not verify, and decodes what it accepts exactly.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseSentence } from './nmea-parser.js';
import type { ParseFailure } from './nmea-types.js';

const REASONS: ParseFailure[] = ['empty', 'too-long', 'no-start', 'bad-checksum', 'missing-checksum', 'malformed', 'proprietary', 'unknown'];

function xor(body: string): number {
  let x = 0;
  for (const ch of body) x ^= ch.charCodeAt(0);
  return x;
}

function cs(body: string): string {
  return `$${body}*${xor(body).toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Independent check of an accepted line: its last $…*hh carries a matching checksum. */
function checksumHolds(line: string): boolean {
  const trimmed = line.replace(/[\r\n\t ]+$/, '');
  const start = Math.max(trimmed.lastIndexOf('$'), trimmed.lastIndexOf('!'));
  const star = trimmed.indexOf('*', start);
  if (start < 0 || star < 0 || star !== trimmed.length - 3) return false;
  return xor(trimmed.slice(start + 1, star)) === Number.parseInt(trimmed.slice(star + 1), 16);
}

const VALID = [
  '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A',
  '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47',
  '$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39',
  '$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75',
  '$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48',
  '$GPGLL,4717.11364,N,00833.91565,E,092321.00,A,A*60',
  '$GPZDA,082710.00,16,09,2002,00,00*64',
  '$GPGST,082356.00,1.8,,,,1.7,1.3,2.2*7E',
  '$GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,*70',
  '$GPTXT,01,01,02,u-blox ag - www.u-blox.com*50',
  '$GNRMC,,V,,,,,,,,,,N,V*37',
];

function wellFormedResult(line: string): void {
  const r = parseSentence(line);
  if (r.ok) {
    expect(checksumHolds(line)).toBe(true);
  } else {
    expect(REASONS).toContain(r.reason);
    expect(typeof r.detail).toBe('string');
  }
}

describe('parseSentence never throws and accepts only verified sentences', () => {
  test('random strings of any characters', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), wellFormedResult), { numRuns: 1000 });
  });

  test('random bytes decoded as a serial port would (latin1)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => wellFormedResult(Buffer.from(bytes).toString('latin1'))),
      { numRuns: 1000 },
    );
  });

  test('NMEA-flavoured noise: delimiters, digits, commas, letters', () => {
    const chars = fc.constantFrom(...'$!*,.0123456789ABCDEFGNPRMCVTSLWZ\r\n-'.split(''));
    fc.assert(fc.property(fc.string({ unit: chars, maxLength: 120 }), wellFormedResult), { numRuns: 2000 });
  });

  test('truncated sentences are never accepted', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.nat(), (line, cut) => {
        const prefix = line.slice(0, cut % line.length);
        expect(parseSentence(prefix).ok).toBe(false);
      }),
    );
  });

  test('a sentence spliced after a truncated one decodes as the second alone', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.constantFrom(...VALID), fc.nat(), (a, b, cut) => {
        const spliced = a.slice(0, cut % a.length) + b;
        expect(parseSentence(spliced)).toEqual(parseSentence(b));
      }),
    );
  });

  test('any other checksum is rejected as bad-checksum', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.integer({ min: 0, max: 255 }), (line, sum) => {
        const given = sum.toString(16).toUpperCase().padStart(2, '0');
        const mutated = line.slice(0, -2) + given;
        const r = parseSentence(mutated);
        if (given === line.slice(-2)) expect(r.ok).toBe(true);
        else expect(r).toMatchObject({ ok: false, reason: 'bad-checksum' });
      }),
    );
  });

  test('changing any one character of the body is detected', () => {
    const printable = fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x24 && c !== 0x21 && c !== 0x2a);
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.nat(), printable, (line, at, code) => {
        const i = 1 + (at % (line.length - 4)); // inside $…*
        if (line.charCodeAt(i) === code) return;
        const mutated = line.slice(0, i) + String.fromCharCode(code) + line.slice(i + 1);
        expect(parseSentence(mutated).ok).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  test('overlong input is rejected as too-long', () => {
    fc.assert(
      // Whitespace around a line is trimmed first (an all-blank line is 'empty'), so what is overlong is the trimmed text.
      fc.property(fc.string({ minLength: 961, maxLength: 5000 }).filter((s) => s.trim().length > 960), (s) => {
        expect(parseSentence(s)).toMatchObject({ ok: false, reason: 'too-long' });
      }),
      { numRuns: 200 },
    );
  });
});

describe('decoding is exact', () => {
  const coordinate = (maxDeg: number, degWidth: number) =>
    fc.record({
      deg: fc.integer({ min: 0, max: maxDeg - 1 }),
      min: fc.integer({ min: 0, max: 59 }),
      frac: fc.stringMatching(/^[0-9]{0,8}$/),
      negative: fc.boolean(),
    }).map((c) => ({ ...c, text: `${String(c.deg).padStart(degWidth, '0')}${String(c.min).padStart(2, '0')}${c.frac === '' ? '' : `.${c.frac}`}` }));

  test('latitude/longitude within 1e-9 degrees of deg + min/60, sign from hemisphere', () => {
    fc.assert(
      fc.property(coordinate(90, 2), coordinate(180, 3), (la, lo) => {
        const line = cs(`GPGGA,120000.00,${la.text},${la.negative ? 'S' : 'N'},${lo.text},${lo.negative ? 'W' : 'E'},1,08,0.9,10.0,M,0.0,M,,`);
        const r = parseSentence(line);
        if (!r.ok || r.sentence.type !== 'GGA') throw new Error(`rejected ${line}`);
        const expectLat = (la.deg + Number(`${la.min}.${la.frac || '0'}`) / 60) * (la.negative ? -1 : 1);
        const expectLon = (lo.deg + Number(`${lo.min}.${lo.frac || '0'}`) / 60) * (lo.negative ? -1 : 1);
        expect(Math.abs((r.sentence.lat ?? Number.NaN) - expectLat)).toBeLessThan(1e-9);
        expect(Math.abs((r.sentence.lon ?? Number.NaN) - expectLon)).toBeLessThan(1e-9);
      }),
      { numRuns: 2000 },
    );
  });

  test('numbers decode to the same double as Number()', () => {
    const decimal = fc.tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,12}$/), fc.stringMatching(/^[0-9]{0,6}$/)).map(
      ([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac === '' ? '' : `.${frac}`}`,
    );
    fc.assert(
      fc.property(decimal, (alt) => {
        const r = parseSentence(cs(`GPGGA,120000,,,,,0,00,,${alt},M,,M,,`));
        expect(r.ok && r.sentence.type === 'GGA' ? r.sentence.altitudeM : 'rejected').toBe(Number(alt));
      }),
      { numRuns: 2000 },
    );
  });
});
