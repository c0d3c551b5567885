import { describe, expect, it } from 'vitest';
import { ago, formatAge, formatBytes, formatDuration, freshness } from './age.js';

describe('ages', () => {
  it('reads at a glance', () => {
    expect([-5000, 0, 999, 1000, 59_999, 60_000, 3_599_999, 3_600_000, 3_660_000, 86_400_000, 90_000_000].map(formatAge))
      .toEqual(['now', 'now', 'now', '1 s', '59 s', '1 min', '59 min', '1 h', '1 h 1 min', '1 d', '1 d 1 h']);
    expect(ago(12_000)).toBe('12 s ago');
    expect(ago(10)).toBe('now');
    expect(formatDuration(4000)).toBe('4.0 s');
    expect(formatDuration(72_000)).toBe('1 min 12 s');
    expect(freshness(50, 60)).toBe('fresh');
    expect(freshness(100, 60)).toBe('aging');
    expect(freshness(130, 60)).toBe('stale');
    expect(formatBytes(812_000)).toBe('812 KB');
    expect(formatBytes(3_400_000_000)).toBe('3.4 GB');
  });
});
