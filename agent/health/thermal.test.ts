import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SysfsPowerSupply } from '../../simulator/power/index.js';
import { cpuTempC, readCpuTempC, readThermalZones } from './thermal.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('thermal zones', () => {
  it('reads the stand-in cpu-thermal zone in °C and follows changes', async () => {
    const s = new SysfsPowerSupply({ tempC: 52.3 });
    cleanups.push(() => s.close());
    expect(await readThermalZones(s.thermalRoot)).toEqual([{ zone: 'thermal_zone0', type: 'cpu-thermal', tempC: 52.3 }]);
    s.setTemp(81);
    expect(await readCpuTempC(s.thermalRoot)).toBe(81);
  });

  it('prefers the CPU zone over others, in numeric zone order, skipping unreadable ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nrec-thermal-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const zone = (n: number, type: string, temp?: string) => {
      mkdirSync(join(root, `thermal_zone${n}`));
      writeFileSync(join(root, `thermal_zone${n}`, 'type'), `${type}\n`);
      if (temp !== undefined) writeFileSync(join(root, `thermal_zone${n}`, 'temp'), `${temp}\n`);
    };
    zone(10, 'x86_pkg_temp', '61000');
    zone(2, 'acpitz', '40000');
    zone(1, 'battery', 'garbage');
    mkdirSync(join(root, 'cooling_device0'));
    const zones = await readThermalZones(root);
    expect(zones.map((z) => z.zone)).toEqual(['thermal_zone2', 'thermal_zone10']);
    expect(cpuTempC(zones)).toBe(61);
    expect(cpuTempC([{ zone: 'thermal_zone0', tempC: 33 }])).toBe(33);
  });

  it('returns nothing when there is no thermal class', async () => {
    expect(await readThermalZones('/nonexistent/thermal')).toEqual([]);
    expect(await readCpuTempC('/nonexistent/thermal')).toBeUndefined();
  });
});
