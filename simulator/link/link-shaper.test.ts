import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkShaper } from './link-shaper.js';

// 8 kbit/s = 1 byte per ms, which keeps the arithmetic readable.
const ONE_BYTE_PER_MS = 8;
const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);
const summary = (d: Array<{ tag: string; data: Buffer | null }>) => d.map((x) => `${x.tag}:${x.data === null ? 'end' : x.data.length}`);

describe('LinkShaper', () => {
  it('lets bytes leave at the cap, one slice at a time', () => {
    const s = new LinkShaper<string>({ kbps: ONE_BYTE_PER_MS, sliceBytes: 10 });
    s.push('a', bytes(30), 0);
    expect(s.poll(0)).toEqual({ deliver: [], nextAt: 10 });
    expect(summary(s.poll(10).deliver)).toEqual(['a:10']);
    expect(s.queuedBytes).toBe(20);
    expect(summary(s.poll(30).deliver)).toEqual(['a:10', 'a:10']);
    expect(s.poll(30).nextAt).toBeUndefined();
  });

  it('serves all connections from one FIFO: a later small write waits behind an earlier big one', () => {
    const s = new LinkShaper<string>({ kbps: ONE_BYTE_PER_MS, sliceBytes: 10 });
    s.push('a', bytes(30), 0);
    s.push('b', bytes(5), 1);
    expect(s.poll(34).deliver.map((d) => d.tag)).toEqual(['a', 'a', 'a']);
    expect(summary(s.poll(35).deliver)).toEqual(['b:5']);
  });

  it('adds the one-way latency after serialization', () => {
    const s = new LinkShaper<string>({ kbps: ONE_BYTE_PER_MS, latencyMs: 50, sliceBytes: 100 });
    s.push('a', bytes(10), 0);
    expect(s.poll(59)).toEqual({ deliver: [], nextAt: 60 });
    expect(s.inTransitBytes).toBe(10);
    expect(summary(s.poll(60).deliver)).toEqual(['a:10']);
  });

  it('without a cap only the latency delays, and a late poll delivers everything due', () => {
    const s = new LinkShaper<string>({ latencyMs: 20 });
    s.push('a', bytes(100_000), 0);
    s.push('a', null, 0);
    expect(s.poll(0).nextAt).toBe(20);
    expect(summary(s.poll(500).deliver)).toEqual(['a:100000', 'a:end']);
  });

  it('gives an idle link no credit: no burst after a pause', () => {
    const s = new LinkShaper<string>({ kbps: ONE_BYTE_PER_MS, sliceBytes: 100 });
    s.push('a', bytes(10), 0);
    s.poll(10);
    s.push('a', bytes(10), 100);
    expect(s.poll(100).nextAt).toBe(110);
  });

  it('holds everything while cut and resumes from the restore time', () => {
    const s = new LinkShaper<string>({ kbps: ONE_BYTE_PER_MS, latencyMs: 5, sliceBytes: 10 });
    s.push('a', bytes(20), 0);
    s.poll(10); // first slice on the wire, due at 15
    s.hold(true, 12);
    s.push('b', bytes(3), 13);
    expect(s.poll(1000)).toEqual({ deliver: [], nextAt: undefined });
    s.hold(false, 1000);
    expect(summary(s.poll(1000).deliver)).toEqual(['a:10']);
    expect(s.poll(1000).nextAt).toBe(1010); // second slice departs at 1010, arrives 1015
    expect(summary(s.poll(1018).deliver)).toEqual(['a:10', 'b:3']);
  });

  it('drop forgets a connection without disturbing the others', () => {
    const s = new LinkShaper<string>({ kbps: ONE_BYTE_PER_MS, sliceBytes: 10 });
    s.push('a', bytes(20), 0);
    s.push('b', bytes(5), 0);
    s.push('a', null, 0);
    expect(s.drop('a')).toBe(20);
    expect(s.queuedBytes).toBe(5);
    expect(summary(s.poll(5).deliver)).toEqual(['b:5']);
  });

  it('rejects nonsense rates and latencies', () => {
    expect(() => new LinkShaper({ kbps: 0 })).toThrow(/rate/);
    expect(() => new LinkShaper({ latencyMs: -1 })).toThrow(/latency/);
  });

  it('property: never delivers faster than the cap, loses nothing and keeps order', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ tag: fc.constantFrom('a', 'b', 'c'), size: fc.integer({ min: 1, max: 3000 }), gap: fc.integer({ min: 0, max: 50 }) }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 50 }),
      fc.integer({ min: 8, max: 800 }),
      (writes, polls, kbps) => {
        const s = new LinkShaper<string>({ kbps, sliceBytes: 500 });
        const perMs = kbps / 8;
        let t = 0;
        const sent: string[] = [];
        for (const w of writes) {
          t += w.gap;
          s.push(w.tag, bytes(w.size, sent.length % 256), t);
          sent.push(`${w.tag}:${w.size}`);
        }
        const got: Array<{ tag: string; data: Buffer | null }> = [];
        let now = 0;
        for (const p of polls) {
          now += p;
          got.push(...s.poll(now).deliver);
          const delivered = got.reduce((n, d) => n + (d.data?.length ?? 0), 0);
          // Bytes out by `now` can't exceed what the cap allows since the first write (+ one slice of rounding).
          expect(delivered).toBeLessThanOrEqual(perMs * now + 500);
        }
        got.push(...s.poll(Number.MAX_SAFE_INTEGER).deliver);
        // Reassemble: consecutive pieces of one tag in FIFO order give back the writes.
        const total = writes.reduce((n, w) => n + w.size, 0);
        expect(got.reduce((n, d) => n + (d.data?.length ?? 0), 0)).toBe(total);
        const order = got.map((d) => d.tag).filter((tag, i, a) => i === 0 || a[i - 1] !== tag);
        const expected = writes.map((w) => w.tag).filter((tag, i, a) => i === 0 || a[i - 1] !== tag);
        expect(order).toEqual(expected);
        expect(s.queuedBytes + s.inTransitBytes).toBe(0);
      },
    ));
  });
});
