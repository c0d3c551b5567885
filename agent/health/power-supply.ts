import { join } from 'node:path';
import type { BatteryStatus } from '../../protocol/health.js';
import { listDir, readAttr, readIntAttr } from './sysfs-read.js';

/** One battery as the kernel's power_supply class shows it. Fields the driver omits are absent. */
export interface BatteryReading {
  /** Supply name, e.g. BAT0. */
  name: string;
  pct?: number;
  status: BatteryStatus;
  voltageV?: number;
  currentA?: number;
  tempC?: number;
}

/** The battery (if any) and whether an external supply is online (undefined when none is exposed). */
export interface PowerReading {
  battery?: BatteryReading;
  onExternalPower?: boolean;
}

const STATUS: Record<string, BatteryStatus> = {
  Charging: 'charging',
  Discharging: 'discharging',
  Full: 'full',
  'Not charging': 'not-charging',
};

/** Maps the kernel's `status` text to the protocol's; anything else (incl. "Unknown") is 'unknown'. */
export function batteryStatus(text: string | undefined): BatteryStatus {
  return (text !== undefined && STATUS[text]) || 'unknown';
}

/**
 * Reads `<root>/<supply>/` (root is normally /sys/class/power_supply). The
 * first battery by name with `scope` other than Device is the device's own:
 * scope=Device marks a peripheral's battery (a Bluetooth mouse, say).
 * External power is any non-battery supply with `online` = 1. Never throws.
 */
export async function readPowerSupply(root: string): Promise<PowerReading> {
  let battery: BatteryReading | undefined;
  let online: boolean | undefined;
  for (const name of await listDir(root)) {
    const dir = join(root, name);
    const type = await readAttr(join(dir, 'type'));
    if (type === undefined) continue;
    if (type === 'Battery') {
      if (battery !== undefined || (await readAttr(join(dir, 'scope'))) === 'Device') continue;
      battery = await readBattery(name, dir);
      continue;
    }
    const o = await readIntAttr(join(dir, 'online'));
    if (o !== undefined) online = (online ?? false) || o > 0;
  }
  return { ...(battery ? { battery } : {}), ...(online !== undefined ? { onExternalPower: online } : {}) };
}

async function readBattery(name: string, dir: string): Promise<BatteryReading> {
  const [capacity, status, voltage, current, temp] = await Promise.all([
    readIntAttr(join(dir, 'capacity')),
    readAttr(join(dir, 'status')),
    readIntAttr(join(dir, 'voltage_now')),
    readIntAttr(join(dir, 'current_now')),
    readIntAttr(join(dir, 'temp')),
  ]);
  const b: BatteryReading = { name, status: batteryStatus(status) };
  // Some fuel gauges overshoot 100 while topping off; the protocol bounds pct to 0..100.
  if (capacity !== undefined) b.pct = Math.min(100, Math.max(0, capacity));
  if (voltage !== undefined) b.voltageV = round(voltage / 1e6, 3); // µV
  if (current !== undefined) b.currentA = round(current / 1e6, 3); // µA
  if (temp !== undefined) b.tempC = temp / 10; // tenths of °C
  return b;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
