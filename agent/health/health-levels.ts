import type { PowerReading } from './power-supply.js';
import { storageFill, type StorageReading } from './storage.js';

/**
 * Change detection works on a discrete view of a sample: threshold bands,
 * booleans and serialized module states. Continuous values (voltage,
 * temperature, free bytes) never trigger a report on their own; they ride
 * along in the next one.
 */
export interface HealthLevels {
  /** 0 above 20 %, 1 at or below 20 %, 2 at or below 10 %, 3 at or below 5 %; undefined without a battery. */
  battery?: number;
  /** Plugged in (external supply online, or the battery says charging/full/not charging). */
  externalPower?: boolean;
  clockSynced: boolean;
  /** 0 below 90 % of the usable quota, 1 from 90 %, 2 from 95 %. */
  storage: number;
  /** Each registered state, serialized with sorted keys. */
  states: Record<string, string>;
}

/** What change detection reads from a sample. */
export interface LevelInput {
  power: PowerReading;
  storage: Pick<StorageReading, 'usedBytes' | 'quotaBytes' | 'freeBytes'>;
  clockSynced: boolean;
  states: Record<string, unknown>;
}

export const BATTERY_THRESHOLDS_PCT = [20, 10, 5] as const;
export const STORAGE_THRESHOLDS = [0.9, 0.95] as const;
/** A battery hovering at 20/21 % would otherwise report every poll: a band is left upwards only 2 points past its edge. */
export const BATTERY_HYSTERESIS_PCT = 2;
/** Same for storage, as a fraction of the usable quota. */
export const STORAGE_HYSTERESIS = 0.01;

/**
 * Band of `value` on ascending `thresholds` (the count of thresholds it has
 * reached), with hysteresis: from band `prev` it drops to a lower band only
 * once it is more than `hysteresis` below that band's upper edge.
 */
export function band(value: number, thresholds: readonly number[], prev: number | undefined, hysteresis: number): number {
  let b = 0;
  while (b < thresholds.length && value >= (thresholds[b] as number)) b++;
  if (prev !== undefined) while (b < prev && value >= (thresholds[b] as number) - hysteresis) b++;
  return b;
}

/** Battery band (see HealthLevels.battery); low charge is the high band, hence the negation. */
export function batteryBand(pct: number, prev: number | undefined): number {
  return band(
    -pct,
    BATTERY_THRESHOLDS_PCT.map((t) => -t),
    prev,
    BATTERY_HYSTERESIS_PCT,
  );
}

/** Storage band (see HealthLevels.storage). */
export function storageBand(fill: number, prev: number | undefined): number {
  return band(fill, STORAGE_THRESHOLDS, prev, STORAGE_HYSTERESIS);
}

/** Whether external power is connected, from the supply's `online` or, lacking one, the battery status. */
export function externalPower(p: PowerReading): boolean | undefined {
  if (p.onExternalPower !== undefined) return p.onExternalPower;
  switch (p.battery?.status) {
    case 'charging':
    case 'full':
    case 'not-charging':
      return true;
    case 'discharging':
      return false;
    default:
      return undefined;
  }
}

/** JSON with object keys sorted, so equal states serialize equally whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  }) ?? 'undefined';
}

/** The discrete view of a sample; `prev` supplies the hysteresis memory. */
export function levelsOf(s: LevelInput, prev: HealthLevels | undefined): HealthLevels {
  const states: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.states)) states[k] = stableJson(v);
  const pct = s.power.battery?.pct;
  const ext = externalPower(s.power);
  return {
    ...(pct !== undefined ? { battery: batteryBand(pct, prev?.battery) } : {}),
    ...(ext !== undefined ? { externalPower: ext } : {}),
    clockSynced: s.clockSynced,
    storage: storageBand(storageFill(s.storage), prev?.storage),
    states,
  };
}

/** Names of what changed between two level views, e.g. ['battery.level', 'state.gps']. */
export function diffLevels(prev: HealthLevels, next: HealthLevels): string[] {
  const out: string[] = [];
  if (prev.battery !== next.battery) out.push('battery.level');
  if (prev.externalPower !== next.externalPower) out.push('power.external');
  if (prev.clockSynced !== next.clockSynced) out.push('clock.synced');
  if (prev.storage !== next.storage) out.push('storage.level');
  const names = new Set([...Object.keys(prev.states), ...Object.keys(next.states)]);
  for (const n of names) if (prev.states[n] !== next.states[n]) out.push(`state.${n}`);
  return out;
}
