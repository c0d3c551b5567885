import { describe, expect, it } from 'vitest';
import { FAULT_REMINDER_MS, FaultReporter, sameFaultKey } from './fault-reporter.js';

describe('FaultReporter', () => {
  it('reports a fault once, repeats only as a reminder at most every 10 minutes, and the recovery once', () => {
    let now = 1_000_000;
    const r = new FaultReporter(() => now);
    const reports: string[] = [];
    // The recorder retries a missing camera every 30 s (its backoff cap): 13 minutes of it.
    for (let t = 0; t <= 13 * 60_000; t += 30_000) {
      now = 1_000_000 + t;
      const rep = r.fault('camera /dev/video0 not present');
      if (rep) reports.push(`${rep.kind}@${t / 60_000}min#${rep.occurrences}`);
    }
    expect(reports).toEqual(['fault@0min#1', 'reminder@10min#21']);
    expect(r.clear()).toMatchObject({ kind: 'recovered', reason: 'camera /dev/video0 not present', since: 1_000_000, occurrences: 27 });
    expect(r.clear()).toBeUndefined();
  });

  it('a different reason is a change, reported at once; the same reason after recovery is a new fault', () => {
    let now = 0;
    const r = new FaultReporter(() => now);
    expect(r.fault('camera /dev/video0 not present')?.kind).toBe('fault');
    now = 1000;
    expect(r.fault('ffmpeg exited with code 1: Permission denied')).toMatchObject({ kind: 'fault', since: 1000 });
    now = 2000;
    expect(r.fault('ffmpeg exited with code 1: Permission denied')).toBeUndefined();
    r.clear();
    expect(r.fault('ffmpeg exited with code 1: Permission denied')?.kind).toBe('fault');
    expect(FAULT_REMINDER_MS).toBe(600_000);
  });

  it('treats reasons that differ only in addresses and numbers ffmpeg prints per run as the same fault', () => {
    expect(sameFaultKey('ffmpeg exited with code 1: [video4linux2,v4l2 @ 0x55d0c8a1b2c0] Cannot open video device /dev/video0'))
      .toBe(sameFaultKey('ffmpeg exited with code 1: [video4linux2,v4l2 @ 0x5612aa03f040] Cannot open video device /dev/video0'));
    expect(sameFaultKey('camera /dev/video0 not present')).not.toBe(sameFaultKey('ffmpeg exited with code 1: Permission denied'));
  });
});
