import type { Static } from '@sinclair/typebox';
import type { Geofence } from '../../protocol/api.js';
import type { SentCommand } from '../desk/types.js';

/*
 * The geofences in force on a device, from the commands the platform sent it
 * (the device keeps no list the platform could read back). Pure: replays the
 * commands oldest first. A command the device refused, failed or let expire
 * changed nothing; one still pending is counted, marked by its status.
 */

const COUNTS = new Set<SentCommand['status']>(['ok', 'pending']);

/** As the agent keeps them (agent/gps): one set keyed by id; visit.start sets a fence named after the visit, visit.end and geofence.clear without an id clear all. */
export function activeGeofences(deviceId: string, commands: readonly SentCommand[]): Array<Static<typeof Geofence>> {
  const fences = new Map<string, Static<typeof Geofence>>();
  const ordered = [...commands].filter((c) => c.deviceId === deviceId && COUNTS.has(c.status)).sort((a, b) => a.sentAt - b.sentAt || a.requestId.localeCompare(b.requestId));
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  for (const c of ordered) {
    const a = c.args;
    const base = { deviceId, since: c.sentAt, requestId: c.requestId, status: c.status };
    if (c.name === 'visit.start') {
      const g = a.geofence as Record<string, unknown> | undefined;
      if (typeof a.visitId === 'string' && g !== undefined && num(g.lat) && num(g.lon) && num(g.radiusM)) {
        fences.set(a.visitId, { ...base, id: a.visitId, lat: g.lat, lon: g.lon, radiusM: g.radiusM, source: 'visit', visitId: a.visitId });
      }
    } else if (c.name === 'geofence.set') {
      if (typeof a.id === 'string' && num(a.lat) && num(a.lon) && num(a.radiusM)) fences.set(a.id, { ...base, id: a.id, lat: a.lat, lon: a.lon, radiusM: a.radiusM, source: 'geofence' });
    } else if (c.name === 'visit.end' || (c.name === 'geofence.clear' && typeof a.id !== 'string')) {
      fences.clear();
    } else if (c.name === 'geofence.clear') {
      fences.delete(a.id as string);
    }
  }
  return [...fences.values()];
}
