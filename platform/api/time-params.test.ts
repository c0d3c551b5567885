import { describe, expect, it } from 'vitest';
import { parseTime } from './time-params.js';

describe('parseTime', () => {
  it('reads epoch ms and ISO 8601, UTC unless an offset is given', () => {
    expect(parseTime('1767600000000')).toEqual({ ok: true, ms: 1_767_600_000_000 });
    expect(parseTime('2026-01-05')).toEqual({ ok: true, ms: Date.UTC(2026, 0, 5) });
    expect(parseTime('2026-01-05T08:30')).toEqual({ ok: true, ms: Date.UTC(2026, 0, 5, 8, 30) });
    expect(parseTime('2026-01-05 08:30:15.123456Z')).toEqual({ ok: true, ms: Date.UTC(2026, 0, 5, 8, 30, 15, 123) });
    expect(parseTime('2026-01-05T09:30:00+01:00')).toEqual({ ok: true, ms: Date.UTC(2026, 0, 5, 8, 30) });
    expect(parseTime('2026-01-05T00:30:00+0100')).toEqual({ ok: true, ms: Date.UTC(2026, 0, 4, 23, 30) });
  });

  it('refuses what is not a time, and impossible dates, saying what to give', () => {
    expect(parseTime('yesterday')).toMatchObject({ ok: false, reason: expect.stringContaining('epoch ms or ISO 8601') });
    expect(parseTime('2026-02-30')).toMatchObject({ ok: false, reason: expect.stringContaining('not a valid date') });
    expect(parseTime('2026-13-01T00:00Z')).toMatchObject({ ok: false });
    expect(parseTime('2h')).toMatchObject({ ok: false });
  });

  it('takes spans back from now when asked (the CLI)', () => {
    const now = Date.UTC(2026, 0, 5, 12);
    expect(parseTime('2h', { now, spans: true })).toEqual({ ok: true, ms: now - 7_200_000 });
    expect(parseTime('90s', { now, spans: true })).toEqual({ ok: true, ms: now - 90_000 });
    expect(parseTime('7d', { now, spans: true })).toEqual({ ok: true, ms: now - 7 * 86_400_000 });
  });
});
