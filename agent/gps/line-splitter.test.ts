import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LineSplitter } from './line-splitter.js';

/** Writes the chunks and collects the lines the splitter emits. */
async function split(chunks: Buffer[], maxLineLength?: number): Promise<{ lines: string[]; splitter: LineSplitter }> {
  const splitter = new LineSplitter({ maxLineLength });
  const lines: string[] = [];
  Readable.from(chunks).pipe(splitter);
  for await (const line of splitter) lines.push(line as string);
  return { lines, splitter };
}

/** The reference behaviour: split on any terminator, drop empties and lines over the bound. */
function model(bytes: Buffer, max: number): { lines: string[]; discarded: number } {
  const parts = bytes.toString('latin1').split(/\r\n|\r|\n/);
  const kept = parts.filter((p) => p.length > 0 && p.length <= max);
  return { lines: kept, discarded: parts.filter((p) => p.length > max).length };
}

describe('LineSplitter', () => {
  test('CR, LF and CR LF all end a line; empty lines are dropped', async () => {
    const { lines } = await split([Buffer.from('$A*00\r\n$B*00\n$C*00\r\r\n\n$D*00')]);
    expect(lines).toEqual(['$A*00', '$B*00', '$C*00', '$D*00']);
  });

  test('a line split across chunks is joined', async () => {
    const { lines } = await split([Buffer.from('$GPRMC,12'), Buffer.from('3519,A*6A\r'), Buffer.from('\n$GPGGA')]);
    expect(lines).toEqual(['$GPRMC,123519,A*6A', '$GPGGA']);
  });

  test('an overlong line is discarded up to the next terminator and counted', async () => {
    const { lines, splitter } = await split([Buffer.alloc(1000, 0xff), Buffer.alloc(1000, 0x41), Buffer.from('\r\n$OK*00\r\n')], 256);
    expect(lines).toEqual(['$OK*00']);
    expect(splitter.discarded).toBe(1);
    expect(splitter.lines).toBe(1);
  });

  test('non-ASCII bytes pass through one character per byte', async () => {
    const { lines } = await split([Buffer.from([0x00, 0xb5, 0x62, 0x24, 0x41, 0x0a])]);
    expect(lines).toEqual(['\u0000\u00b5b$A']);
  });

  test('rejects a nonsensical bound', () => {
    expect(() => new LineSplitter({ maxLineLength: 0 })).toThrow(/maxLineLength/);
  });

  test('any bytes in any chunking give the reference lines, none longer than the bound', async () => {
    const byte = fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x24, 0x2c), fc.integer({ min: 0, max: 255 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), fc.array(byte, { maxLength: 400 }), fc.integer({ min: 1, max: 64 }), async (chunks, extra, max) => {
        const all = [...chunks.map((c) => Buffer.from(c)), Buffer.from(extra)];
        const { lines, splitter } = await split(all, max);
        const expected = model(Buffer.concat(all), max);
        expect(lines).toEqual(expected.lines);
        expect(splitter.discarded).toBe(expected.discarded);
        for (const l of lines) expect(l.length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 300 },
    );
  });

  test('the bytes held for the line in progress never exceed the bound', () => {
    const probe = new LineSplitter({ maxLineLength: 8 });
    probe.write(Buffer.from('$GP'));
    expect(probe.buffered).toBe(3); // writes reach _transform synchronously, so the checks below see real state
    probe.write(Buffer.from('RMC,123'));
    expect(probe.buffered).toBe(0); // 10 bytes > 8: discarding
    probe.destroy();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 500 }), { maxLength: 30 }), fc.integer({ min: 1, max: 128 }), (chunks, max) => {
        const splitter = new LineSplitter({ maxLineLength: max });
        splitter.on('data', () => {});
        for (const c of chunks) {
          splitter.write(Buffer.from(c));
          expect(splitter.buffered).toBeLessThanOrEqual(max);
        }
        splitter.destroy();
      }),
      { numRuns: 300 },
    );
  });

  test('megabytes without a terminator are dropped as one discarded line, never emitted', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x55);
    const { lines, splitter } = await split([...Array.from({ length: 64 }, () => chunk), Buffer.from('\n$END*00\n')], 256);
    expect(lines).toEqual(['$END*00']);
    expect(splitter.discarded).toBe(1);
  });
});
