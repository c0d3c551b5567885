import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('grows the cap exponentially up to the max, with full jitter', () => {
    const top = new Backoff(500, 60_000, () => 0.999999);
    const caps = Array.from({ length: 10 }, () => top.next());
    expect(caps.slice(0, 4)).toEqual([499, 999, 1999, 3999]);
    expect(caps[9]).toBe(59_999);
    const bottom = new Backoff(500, 60_000, () => 0);
    expect(bottom.next()).toBe(0);
  });

  it('spreads a fleet: 1000 devices at attempt 5 do not pick the same delay', () => {
    const delays = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const b = new Backoff(500, 60_000);
      for (let a = 0; a < 5; a++) b.next();
      delays.add(Math.round(b.next() / 100));
    }
    expect(delays.size).toBeGreaterThan(100);
  });

  it('reset starts over', () => {
    const b = new Backoff(100, 1000, () => 0.5);
    b.next(); b.next(); b.next();
    b.reset();
    expect(b.next()).toBe(50);
  });
});
