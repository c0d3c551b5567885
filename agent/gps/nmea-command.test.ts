import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Fix } from './fix.js';
import { main, replay } from './nmea-command.js';

function cs(body: string): string {
  let x = 0;
  for (const ch of body) x ^= ch.charCodeAt(0);
  return `$${body}*${x.toString(16).toUpperCase().padStart(2, '0')}`;
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  return { stream, text: () => Buffer.concat(parts).toString('utf8') };
}

async function runMain(argv: string[], stdin?: Readable) {
  const out = sink();
  const err = sink();
  const code = await main(argv, { stdin, stdout: out.stream, stderr: err.stream });
  const lines = out.text().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, fixes: lines.slice(0, -1) as unknown as Fix[], counts: lines.at(-1), stderr: err.text() };
}

// A u-blox style log: power-up garbage, a banner, an acquiring epoch, two fixed
// epochs, proprietary and unknown sentences, one corrupted line and noise from
// a baud-rate mismatch.
const LOG = [
  '\u00ff\u00fe\u0000\u00b5b\u0001',
  '$GPTXT,01,01,02,u-blox ag - www.u-blox.com*50',
  '$GPRMC,,V,,,,,,,,,,N*53',
  '$GPGGA,,,,,,0,00,99.99,,,,,,*48',
  '$PUBX,00,081350.00,4717.113210,N,00833.915187,E,546.589,G3,2.1,2.0,0.007,77.52,0.007,,0.92,1.19,0.77,9,0,0*5F',
  '$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A*57',
  cs('GPGGA,083559.00,4717.11437,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,'),
  '$GPGSA,A,3,23,29,07,08,09,18,26,28,,,,,1.94,1.18,1.54*0D',
  cs('GPXTE,A,A,0.67,L,N'),
  cs('GPRMC,083600.00,A,4717.11500,N,00833.91600,E,0.004,77.52,091202,,,A'),
  cs('GPGGA,083600.00,4717.11500,N,00833.91600,E,1,08,1.01,499.7,M,48.0,M,,').replace('499.7', '499.8'),
  '\u0080\u0086\u0098x\u00f8\u0080\u0080',
].join('\r\n');

describe('nrec nmea', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrec-nmea-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('replays a file: one JSON fix per epoch, then the counts', async () => {
    const path = join(dir, 'ublox.nmea');
    await writeFile(path, LOG, 'latin1');
    const { code, fixes, counts, stderr } = await runMain([path]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(counts).toEqual({ sentences: 7, badChecksum: 1, unknown: 1, proprietary: 1, malformed: 2, epochs: 3 });
    expect(fixes.map((f) => [f.valid, f.time])).toEqual([
      [false, undefined],
      [true, Date.UTC(2002, 11, 9, 8, 35, 59)],
      [true, Date.UTC(2002, 11, 9, 8, 36, 0)],
    ]);
    expect(fixes[1]).toMatchObject({ lat: 47.2852395, altitudeM: 499.6, satsUsed: 8, fixType: '3d', sources: ['GPRMC', 'GPGGA', 'GPGSA'] });
    // The corrupted GGA of the last epoch was dropped: no altitude from it.
    expect(fixes[2].altitudeM).toBeUndefined();
  });

  test('reads stdin for "-" and by default', async () => {
    for (const argv of [['-'], []]) {
      const { code, counts } = await runMain(argv, Readable.from([Buffer.from(LOG, 'latin1')]));
      expect(code).toBe(0);
      expect(counts).toMatchObject({ sentences: 7, epochs: 3 });
    }
  });

  test('--no-checksum accepts sentences without one', async () => {
    const log = '$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A\n';
    expect((await runMain([], Readable.from([log]))).counts).toMatchObject({ sentences: 0, malformed: 1, epochs: 0 });
    const relaxed = await runMain(['--no-checksum'], Readable.from([log]));
    expect(relaxed.counts).toMatchObject({ sentences: 1, epochs: 1 });
    expect(relaxed.fixes[0]).toMatchObject({ valid: true, lat: 47.2852395 });
  });

  test('a missing file exits 2 and names it', async () => {
    const path = join(dir, 'nope.nmea');
    const { code, stderr } = await runMain([path]);
    expect(code).toBe(2);
    expect(stderr).toContain(path);
    expect(stderr).toContain('no such file');
  });

  test('an unknown option is a usage error naming it', async () => {
    await expect(runMain(['--frobnicate'])).rejects.toThrow(/unknown option "--frobnicate"/);
  });

  test('only valid sentences produce fixes: corrupted characters never leak into a position', async () => {
    const epochs = Array.from({ length: 20 }, (_, i) => {
      const t = `1200${String(i).padStart(2, '0')}.00`;
      const lat = `5230.${String(1000 + i * 7).padStart(5, '0')}`;
      return [cs(`GNRMC,${t},A,${lat},N,01320.50000,E,0.5,10.0,110624,,,A,V`), cs(`GNGGA,${t},${lat},N,01320.50000,E,1,09,0.9,35.0,M,44.9,M,,`)];
    });
    const intended = new Set(epochs.map((_, i) => 52.5 + (1000 + i * 7) / 1e5 / 60));
    await fc.assert(
      // One change per line at most, never to a delimiter: a single changed
      // character always changes the XOR, so every mutated line is invalid.
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.nat({ max: 39 }), fc.nat(), fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x24 && c !== 0x21 && c !== 0x2a)), {
          maxLength: 30,
          selector: ([which]) => which,
        }),
        async (mutations) => {
        const lines = epochs.flat();
        for (const [which, at, code] of mutations) {
          const l = lines[which % lines.length];
          const i = 1 + (at % (l.length - 4));
          lines[which % lines.length] = l.slice(0, i) + String.fromCharCode(code) + l.slice(i + 1);
        }
        const fixes: Fix[] = [];
        await replay(Readable.from([lines.join('\r\n')]), true, async (f) => {
          fixes.push(f);
        });
        for (const f of fixes) {
          if (!f.valid) continue;
          expect([...intended].some((lat) => Math.abs(lat - (f.lat ?? 0)) < 1e-12)).toBe(true);
          expect(f.lon).toBeCloseTo(13 + 20.5 / 60, 12);
        }
        },
      ),
      { numRuns: 200 },
    );
  });
});
