import { describe, expect, it } from 'vitest';
import { Health, type HealthBody } from './health.js';
import { Validator } from './validate.js';

const v = new Validator(Health);
const envelope = { v: 1, id: 'm1', deviceId: 'dev-1', bootId: 'boot-1', seq: 3, ts: 1_700_000_000_000 };
const body: HealthBody = {
  trigger: 'change',
  changed: ['battery.level'],
  battery: { pct: 19, status: 'discharging', voltageV: 3.7, onExternalPower: false },
  storage: { freeBytes: 1e9, usedBytes: 1234, quotaBytes: 1e8 },
  cpuTempC: 51.2,
  uptimeS: 3600,
  clockSynced: true,
  queues: { alarm: { count: 0, bytes: 0 }, location: { count: 2, bytes: 400, oldestAgeMs: 5000 } },
  states: { gps: { link: 'connected' }, recorder: 'idle' },
};

describe('Health schema', () => {
  it('accepts a full report and a minimal one', () => {
    expect(v.check({ ...envelope, ...body })).toMatchObject({ ok: true });
    expect(v.check({ ...envelope, trigger: 'interval', storage: { usedBytes: 0, quotaBytes: 0 }, uptimeS: 1, clockSynced: false, queues: {}, states: {} })).toMatchObject({ ok: true });
  });

  it('names what is wrong', () => {
    const bad = (patch: Record<string, unknown>) => v.check({ ...envelope, ...body, ...patch });
    expect(bad({ battery: { pct: 120, status: 'discharging' } })).toMatchObject({ ok: false, errors: expect.arrayContaining([expect.stringMatching(/battery\/pct/)]) });
    expect(bad({ trigger: 'boot' }).ok).toBe(false);
    expect(bad({ queues: { 'Bad Lane': { count: 1, bytes: 1 } } }).ok).toBe(false);
    expect(bad({ states: { 'a b': 1 } }).ok).toBe(false);
    expect(bad({ extra: true }).ok).toBe(false);
    const { storage: _s, ...noStorage } = body;
    expect(v.check({ ...envelope, ...noStorage })).toMatchObject({ ok: false, errors: expect.arrayContaining([expect.stringMatching(/storage/)]) });
  });
});
