import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePart, encodePart, PART_MAGIC } from '../../../protocol/media.js';
import { makeSimDevice, SimEvidenceSession } from '../../../simulator/camera/index.js';
import { Reassembler } from './reassembler.js';

const device = makeSimDevice('dev-1');
const PART = 1000;

function chunk(bytes = 4500) {
  const s = new SimEvidenceSession(device, 'sess-1');
  return s.add(randomBytes(bytes));
}

/** Deterministic shuffle so a failure reproduces. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('part framing', () => {
  it('round-trips a part and refuses frames by length before parsing', () => {
    const payload = randomBytes(300);
    const header = { v: 1 as const, deviceId: 'dev-1', sessionId: 's', chunkIndex: 3, part: 1, parts: 2, chunkSha256: 'a'.repeat(64) };
    const d = decodePart(encodePart(header, payload));
    expect(d.ok && d.header).toEqual(header);
    expect(d.ok && d.payload.equals(payload)).toBe(true);
    expect(decodePart(Buffer.from('NRP'))).toMatchObject({ ok: false, reason: expect.stringMatching(/shorter than/) });
    const lying = Buffer.concat([PART_MAGIC, Buffer.from([0x03, 0x00]), Buffer.from('{}')]);
    expect(decodePart(lying)).toMatchObject({ ok: false, reason: expect.stringMatching(/header length 768 runs past/) });
    const partTooHigh = encodePart({ ...header, part: 2 }, payload);
    expect(decodePart(partTooHigh)).toMatchObject({ ok: false, reason: expect.stringMatching(/part 2 is not below parts 2/) });
  });

  it('property: decodePart never throws on random or magic-prefixed garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (bytes, withMagic) => {
        const frame = withMagic ? Buffer.concat([PART_MAGIC, bytes]) : Buffer.from(bytes);
        const d = decodePart(frame);
        if (!d.ok) expect(d.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.json(), (json) => {
        const body = Buffer.from(json);
        const prefix = Buffer.alloc(6);
        PART_MAGIC.copy(prefix);
        prefix.writeUInt16BE(Math.min(body.length, 0xffff), 4);
        expect(decodePart(Buffer.concat([prefix, body])).ok).toBe(false);
      }),
    );
  });
});

describe('Reassembler', () => {
  it('completes a chunk from parts in any order with the header arriving last, bytes intact', () => {
    const c = chunk();
    const r = new Reassembler({ maxBytes: 1 << 20 });
    const parts = shuffled(c.parts(PART), 7);
    expect(parts).toHaveLength(5);
    for (const p of parts) expect(r.addPart(p).kind).toBe('partial');
    const done = r.addHeader(c.header(PART));
    expect(done.kind).toBe('complete');
    expect(done.kind === 'complete' && done.bytes.equals(c.bytes)).toBe(true);
    expect(r.bufferedBytes).toBe(0);
    expect(r.openChunks).toBe(0);
  });

  it('ignores repeated parts and headers and completes exactly once', () => {
    const c = chunk();
    const r = new Reassembler({ maxBytes: 1 << 20 });
    expect(r.addHeader(c.header(PART)).kind).toBe('partial');
    expect(r.addHeader(c.header(PART)).kind).toBe('partial');
    const parts = c.parts(PART);
    const outcomes = [...parts.slice(0, 3), parts[1], parts[0], ...parts.slice(3)].map((p) => r.addPart(p).kind);
    expect(outcomes).toEqual(['partial', 'partial', 'partial', 'partial', 'partial', 'partial', 'complete']);
  });

  it('rejects a corrupt part with a reason and keeps it out: same index with other bytes, or a wrong length', () => {
    const c = chunk();
    const r = new Reassembler({ maxBytes: 1 << 20 });
    r.addHeader(c.header(PART));
    const parts = c.parts(PART);
    r.addPart(parts[0]);
    const flipped = Buffer.from(parts[0]);
    flipped[flipped.length - 1] ^= 1;
    expect(r.addPart(flipped)).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/part 0 of dev-1\/sess-1\/0 arrived twice with different bytes/) });
    const truncated = parts[1].subarray(0, parts[1].length - 10);
    expect(r.addPart(truncated)).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/part 1 of .* has 990 bytes, expected 1000/) });
    const before = r.bufferedBytes;
    expect(r.addPart(randomBytes(64))).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/bad part frame/) });
    expect(r.bufferedBytes).toBe(before);
    for (const p of parts.slice(1)) r.addPart(p);
    expect(r.openChunks).toBe(0); // completed with the good copies only
  });

  it('rejects parts whose chunk hash or count disagree with the header, and parts from another device topic', () => {
    const c = chunk();
    const other = chunk();
    const r = new Reassembler({ maxBytes: 1 << 20 });
    r.addHeader(c.header(PART));
    const alien = other.parts(PART)[0];
    // Same session and index (both are chunk 0 of sess-1) but another chunk's hash.
    expect(r.addPart(alien)).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/disagrees with the chunk: sha256/) });
    expect(r.addPart(c.parts(PART)[0], 'dev-2')).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/arrived from device dev-2/) });
    const lyingHeader = { ...c.header(PART), partCount: 9 };
    expect(new Reassembler({ maxBytes: 1 << 20 }).addHeader(lyingHeader)).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/is 5 parts, not 9/) });
  });

  it('property: random and magic-prefixed garbage is rejected with a reason and never held', () => {
    const r = new Reassembler({ maxBytes: 1 << 16 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), (bytes, withMagic) => {
        const o = r.addPart(withMagic ? Buffer.concat([PART_MAGIC, bytes]) : bytes);
        expect(o.kind).toBe('rejected');
        expect(r.bufferedBytes).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('stays within its byte bound by evicting the least recently touched incomplete chunk', () => {
    const s = new SimEvidenceSession(device, 'sess-2');
    const a = s.add(randomBytes(3000));
    const b = s.add(randomBytes(3000));
    const r = new Reassembler({ maxBytes: 4000 });
    for (const p of a.parts(PART).slice(0, 2)) r.addPart(p);
    for (const p of b.parts(PART).slice(0, 2)) r.addPart(p);
    expect(r.bufferedBytes).toBeLessThanOrEqual(4000);
    expect(r.evictions).toBe(0);
    r.addPart(b.parts(PART)[2]);
    expect(r.evictions).toBe(1);
    expect(r.bufferedBytes).toBe(3000);
    expect(r.addHeader(b.header(PART)).kind).toBe('complete');
    expect(r.addHeader(a.header(PART))).toMatchObject({ kind: 'partial', have: 0 });
  });
});
