import { geofenceFromArgs } from '../gps/gps-commands.js';
import type { GpsService } from '../gps/gps-service.js';
import type { CommandRegistry } from './command-registry.js';

export interface VisitDeps {
  gps: GpsService;
  /** Evidence recording, when media capture is enabled. */
  recording?: { start(visitId: string): Promise<void>; stop(): Promise<void> };
}

function visitIdOf(args: Record<string, unknown>): string {
  const v = args.visitId;
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new Error('args.visitId must be 1-64 of [A-Za-z0-9_-]');
  return v;
}

/**
 * visit.start / visit.end tie a home visit together: the visit reporting rate,
 * the patient-home geofence, and evidence recording when the patient consented
 * (and media capture is enabled).
 */
export function registerVisitCommands(reg: CommandRegistry, d: VisitDeps): void {
  reg.register('visit.start', async (args) => {
    const visitId = visitIdOf(args);
    if (typeof args.consent !== 'boolean') throw new Error('args.consent (boolean: may the visit be recorded) is required');
    const g = args.geofence;
    if (g !== undefined) {
      if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new Error('args.geofence must be {lat, lon, radiusM}');
      // The same ranges as geofence.set: a fence at latitude 1000 or with a 0 m radius never fires.
      d.gps.setGeofence(geofenceFromArgs(visitId, g as Record<string, unknown>, 'args.geofence'));
    }
    d.gps.setVisit(true);
    const recording = args.consent && d.recording !== undefined;
    if (recording) await d.recording!.start(visitId);
    return { result: { visitId, recording, ...(args.consent && d.recording === undefined ? { note: 'evidence capture is not enabled on this device' } : {}) } };
  }, { replaySafe: true }); // sets the visit's state: the same visit again joins what is open
  reg.register('visit.end', async () => {
    d.gps.setVisit(false);
    d.gps.clearGeofence();
    await d.recording?.stop();
    return { result: { visit: 'ended' } };
  }, { replaySafe: true });
}
