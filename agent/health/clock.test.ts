import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clockSynced, readClock, realUptime } from './clock.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('clock', () => {
  it('is synced exactly while the marker file exists', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nrec-clock-'));
    const marker = join(dir, 'synchronized');
    expect(await clockSynced(marker)).toBe(false);
    writeFileSync(marker, '');
    expect(await clockSynced(marker)).toBe(true);
    rmSync(marker);
    expect(await clockSynced(marker)).toBe(false);
  });

  it('reports uptimes in whole seconds from the injected source', async () => {
    const r = await readClock('/nonexistent/synchronized', { system: () => 3600.4, process: () => 12.6 });
    expect(r).toEqual({ synced: false, uptimeS: 3600, agentUptimeS: 13 });
  });

  it('the real uptime source gives a system uptime at least as long as this process has run', () => {
    expect(realUptime.system()).toBeGreaterThan(0);
    expect(realUptime.system() + 1).toBeGreaterThanOrEqual(realUptime.process());
  });
});
