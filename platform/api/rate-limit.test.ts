import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst, then refills at the rate, saying when to retry', () => {
    let now = 0;
    const rl = new RateLimiter({ perMinute: 60, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => rl.take('a').ok)).toEqual([true, true, true]);
    expect(rl.take('a')).toEqual({ ok: false, retryAfterS: 1 });
    expect(rl.take('b').ok).toBe(true);
    now = 999;
    expect(rl.allows('a')).toBe(false);
    now = 1000;
    expect(rl.allows('a')).toBe(true);
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
    now = 1_000_000;
    expect([1, 2, 3, 4].map(() => rl.take('a').ok)).toEqual([true, true, true, false]);
  });

  it('keeps at most maxKeys buckets, dropping the least recently used', () => {
    let now = 0;
    const rl = new RateLimiter({ perMinute: 1, burst: 1, maxKeys: 2, now: () => now });
    rl.take('a');
    rl.take('b');
    now = 1;
    rl.take('a');
    rl.take('c');
    expect(rl.size).toBe(2);
    // b was dropped: it starts again full; a was kept: still empty.
    expect(rl.allows('b')).toBe(true);
    expect(rl.allows('a')).toBe(false);
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new RateLimiter({ perMinute: 0, burst: 1 })).toThrow(/perMinute > 0/);
  });
});
