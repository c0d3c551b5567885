import type { CommandRegistry } from '../commands/command-registry.js';
import type { GpsService } from './gps-service.js';

function num(args: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = args[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new Error(`args.${key} must be a number in [${min}, ${max}]`);
  return v;
}

/**
 * A geofence from command arguments, range-checked (latitude, longitude, a radius from 5 m to
 * 100 km); throws naming the bad argument. `prefix` names where the fields sit ("args", "args.geofence").
 */
export function geofenceFromArgs(id: string, g: Record<string, unknown>, prefix = 'args'): { id: string; lat: number; lon: number; radiusM: number } {
  const at = (key: string, min: number, max: number) => {
    try {
      return num(g, key, min, max);
    } catch (err) {
      throw new Error((err as Error).message.replace(/^args\./, `${prefix}.`));
    }
  };
  return { id, lat: at('lat', -90, 90), lon: at('lon', -180, 180), radiusM: at('radiusM', 5, 100_000) };
}

/** geofence.set / geofence.clear: a patient's home as a circle, set per visit. */
export function registerGpsCommands(reg: CommandRegistry, gps: GpsService): void {
  reg.register('geofence.set', (args) => {
    const id = args.id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error('args.id must be 1-64 of [A-Za-z0-9_-]');
    const fence = geofenceFromArgs(id, args);
    gps.setGeofence(fence);
    return { result: fence };
  }, { replaySafe: true });
  reg.register('geofence.clear', (args) => {
    const id = args.id;
    if (id !== undefined && typeof id !== 'string') throw new Error('args.id must be a string when given');
    gps.clearGeofence(id);
    return { result: { cleared: id ?? 'all' } };
  }, { replaySafe: true });
}
