import { describe, expect, it } from 'vitest';
import type { ApiVisitCheck } from './types.js';
import { playOrder, timeline } from './visit.js';

const check: ApiVisitCheck = {
  deviceId: 'd', sessionId: 's', checkedAt: 0, state: 'failed', problems: [], alarms: [],
  chunks: [
    { index: 2, state: 'verified', startTime: 20_000, endTime: 30_000 },
    { index: 0, state: 'verified', startTime: 0, endTime: 10_000 },
    { index: 1, state: 'rejected', reason: 'altered', startTime: 10_000, endTime: 20_000 },
    { index: 3, state: 'missing', reason: 'gone' },
  ],
  gaps: [{ from: 30_000, to: 40_000, reason: 'camera unplugged' }],
};

describe('visit playback', () => {
  it('plays the verified chunks only, in chain order', () => {
    expect(playOrder(check).map((c) => c.index)).toEqual([0, 2]);
  });

  it('lays chunks and gaps on one axis', () => {
    const t = timeline(check);
    expect([t.start, t.end]).toEqual([0, 40_000]);
    expect(t.segments.map((s) => [s.kind, s.index ?? s.reason, s.left, s.width])).toEqual([
      ['chunk', 0, 0, 0.25], ['chunk', 1, 0.25, 0.25], ['chunk', 2, 0.5, 0.25], ['gap', 'camera unplugged', 0.75, 0.25],
    ]);
  });
});
