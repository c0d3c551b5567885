import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SysfsPowerSupply } from '../../simulator/power/index.js';
import { batteryStatus, readPowerSupply } from './power-supply.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function standIn(opts: ConstructorParameters<typeof SysfsPowerSupply>[0] = {}): SysfsPowerSupply {
  const s = new SysfsPowerSupply(opts);
  cleanups.push(() => s.close());
  return s;
}

/** A hand-made power_supply tree, for layouts the stand-in does not produce. */
function tree(supplies: Record<string, Record<string, string>>): string {
  const root = mkdtempSync(join(tmpdir(), 'nrec-ps-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  for (const [name, attrs] of Object.entries(supplies)) {
    mkdirSync(join(root, name));
    for (const [k, v] of Object.entries(attrs)) writeFileSync(join(root, name, k), `${v}\n`);
  }
  return root;
}

describe('readPowerSupply', () => {
  it('reads capacity, status, voltage, current and mains state from the stand-in', async () => {
    const s = standIn({ capacity: 64, batteryTempC: 31.5 });
    const r = await readPowerSupply(s.powerSupplyRoot);
    expect(r.onExternalPower).toBe(false);
    expect(r.battery).toMatchObject({ name: 'BAT0', pct: 64, status: 'discharging', tempC: 31.5 });
    expect(r.battery?.voltageV).toBeCloseTo(3.3 + 0.9 * 0.64, 3);
    expect(r.battery?.currentA).toBeLessThan(0);
  });

  it('follows the stand-in when it is plugged in and charged', async () => {
    const s = standIn({ capacity: 50 });
    s.setCharging(true);
    expect(await readPowerSupply(s.powerSupplyRoot)).toMatchObject({ onExternalPower: true, battery: { pct: 50, status: 'charging' } });
    s.setCapacity(100);
    expect((await readPowerSupply(s.powerSupplyRoot)).battery?.status).toBe('full');
  });

  it('leaves out what the driver does not expose', async () => {
    const s = standIn();
    s.removeCapacity();
    const r = await readPowerSupply(s.powerSupplyRoot);
    expect(r.battery).toBeDefined();
    expect(r.battery?.pct).toBeUndefined();
    expect(r.battery?.tempC).toBeUndefined();
  });

  it('returns nothing for a missing root or a device without supplies', async () => {
    expect(await readPowerSupply('/nonexistent/power_supply')).toEqual({});
    expect(await readPowerSupply(tree({}))).toEqual({});
  });

  it('skips peripheral batteries and garbage values; any online supply counts as external power', async () => {
    const root = tree({
      'hid-mouse-battery': { type: 'Battery', scope: 'Device', capacity: '3', status: 'Discharging' },
      'usb': { type: 'USB', online: '1' },
      'ac': { type: 'Mains', online: '0' },
      'BAT1': { type: 'Battery', capacity: '104', status: 'Not charging', voltage_now: 'n/a' },
    });
    const r = await readPowerSupply(root);
    expect(r.onExternalPower).toBe(true);
    expect(r.battery).toEqual({ name: 'BAT1', pct: 100, status: 'not-charging' });
  });

  it('maps kernel status words', () => {
    expect(batteryStatus('Charging')).toBe('charging');
    expect(batteryStatus('Discharging')).toBe('discharging');
    expect(batteryStatus('Full')).toBe('full');
    expect(batteryStatus('Not charging')).toBe('not-charging');
    expect(batteryStatus('Unknown')).toBe('unknown');
    expect(batteryStatus(undefined)).toBe('unknown');
  });
});
