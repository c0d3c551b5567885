import { describe, expect, it } from 'vitest';
import { autoPartBytes, MAX_AUTO_PART_BYTES, MIN_AUTO_PART_BYTES, resolvePartBytes } from './part-size.js';

const kbps = (k: number) => (k * 1000) / 8;

describe('autoPartBytes', () => {
  it('gives about 100 ms of link time, a power of two', () => {
    expect(autoPartBytes(kbps(2000))).toBe(16 * 1024);
    expect(autoPartBytes(kbps(4000))).toBe(32 * 1024);
    expect(autoPartBytes(kbps(8000))).toBe(64 * 1024);
    expect(autoPartBytes(kbps(11_000))).toBe(128 * 1024);
  });

  it('stays within 16..128 KiB whatever the rate, including none yet', () => {
    for (const r of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1, kbps(256), kbps(1e6)]) {
      const s = autoPartBytes(r);
      expect(s).toBeGreaterThanOrEqual(MIN_AUTO_PART_BYTES);
      expect(s).toBeLessThanOrEqual(MAX_AUTO_PART_BYTES);
      expect(Math.log2(s) % 1).toBe(0);
    }
    expect(autoPartBytes(kbps(1e6))).toBe(MAX_AUTO_PART_BYTES);
    expect(autoPartBytes(0)).toBe(MIN_AUTO_PART_BYTES);
  });

  it('never grows when the rate falls', () => {
    let last = Number.POSITIVE_INFINITY;
    for (let k = 100_000; k >= 100; k = Math.floor(k * 0.9)) {
      const s = autoPartBytes(kbps(k));
      expect(s).toBeLessThanOrEqual(last);
      last = s;
    }
  });

  it('a fixed setting is used as it is', () => {
    expect(resolvePartBytes(4096, kbps(50_000))).toBe(4096);
    expect(resolvePartBytes('auto', kbps(50_000))).toBe(128 * 1024);
  });
});
