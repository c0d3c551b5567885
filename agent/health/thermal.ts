import { join } from 'node:path';
import { listDir, readAttr, readIntAttr } from './sysfs-read.js';

/** One thermal zone: its `type` (e.g. cpu-thermal) and temperature in °C. */
export interface ThermalZone {
  zone: string;
  type?: string;
  tempC: number;
}

/** Reads every `<root>/thermal_zone*` with a readable `temp` (millidegrees °C). Never throws. */
export async function readThermalZones(root: string): Promise<ThermalZone[]> {
  const out: ThermalZone[] = [];
  const zones = (await listDir(root)).filter((n) => /^thermal_zone\d+$/.test(n));
  zones.sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  for (const zone of zones) {
    const milli = await readIntAttr(join(root, zone, 'temp'));
    if (milli === undefined) continue;
    const type = await readAttr(join(root, zone, 'type'));
    out.push({ zone, tempC: milli / 1000, ...(type ? { type } : {}) });
  }
  return out;
}

// Raspberry Pi: cpu-thermal; x86: x86_pkg_temp; many Arm SoCs: soc-thermal or cpu0-thermal.
const CPU_TYPE = /cpu|soc|x86_pkg|package/i;

/** The CPU temperature: the first zone whose type names the CPU/SoC, else the first zone; undefined with none. */
export function cpuTempC(zones: readonly ThermalZone[]): number | undefined {
  return (zones.find((z) => z.type !== undefined && CPU_TYPE.test(z.type)) ?? zones[0])?.tempC;
}

/** Reads the thermal zones under `root` and picks the CPU's temperature. Never throws. */
export async function readCpuTempC(root: string): Promise<number | undefined> {
  return cpuTempC(await readThermalZones(root));
}
