import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { isClockSynchronized, parseNtpSynchronized } from './clock-sync.js';
import { decideTimestamp, MIN_PLAUSIBLE_GPS_MS } from './gps-time.js';

const GPS = Date.UTC(2024, 5, 11, 10, 0, 0);

describe('decideTimestamp', () => {
  test('a synchronized system clock wins, with the skew against GPS reported', () => {
    expect(decideTimestamp({ fixTimeMs: GPS, fixValid: true, systemMs: GPS + 250, systemSynchronized: true })).toEqual({ ts: GPS + 250, source: 'system', skewMs: 250 });
  });

  test('an unsynchronized clock yields to a valid fix', () => {
    const boot1970 = 30_000;
    expect(decideTimestamp({ fixTimeMs: GPS, fixValid: true, systemMs: boot1970, systemSynchronized: false })).toEqual({ ts: GPS, source: 'gps', skewMs: boot1970 - GPS });
  });

  test('no usable fix time: the system clock, without skew', () => {
    expect(decideTimestamp({ fixTimeMs: undefined, fixValid: true, systemMs: 5, systemSynchronized: false })).toEqual({ ts: 5, source: 'system', skewMs: undefined });
    expect(decideTimestamp({ fixTimeMs: GPS, fixValid: false, systemMs: 5, systemSynchronized: false })).toEqual({ ts: 5, source: 'system', skewMs: undefined });
  });

  test('receiver default dates (1980, week-rollover 2004) are not believed', () => {
    expect(decideTimestamp({ fixTimeMs: Date.UTC(1980, 0, 6), fixValid: true, systemMs: 5, systemSynchronized: false }).source).toBe('system');
    expect(decideTimestamp({ fixTimeMs: Date.UTC(2004, 10, 1), fixValid: true, systemMs: 5, systemSynchronized: false }).source).toBe('system');
    expect(decideTimestamp({ fixTimeMs: MIN_PLAUSIBLE_GPS_MS, fixValid: true, systemMs: 5, systemSynchronized: false }).source).toBe('gps');
  });
});

describe('clock sync detection', () => {
  test('the flag file decides', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nrec-sync-'));
    try {
      const flag = join(dir, 'synchronized');
      expect(await isClockSynchronized(flag)).toBe(false);
      await writeFile(flag, '');
      expect(await isClockSynchronized(flag)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('timedatectl output', () => {
    expect(parseNtpSynchronized('NTPSynchronized=yes\n')).toBe(true);
    expect(parseNtpSynchronized('Timezone=UTC\nNTPSynchronized=no\n')).toBe(false);
    expect(parseNtpSynchronized('Timezone=UTC\n')).toBeUndefined();
  });
});
