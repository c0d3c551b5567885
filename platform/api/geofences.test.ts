import { describe, expect, it } from 'vitest';
import type { SentCommand } from '../desk/types.js';
import { activeGeofences } from './geofences.js';

let n = 0;
const cmd = (name: string, args: Record<string, unknown>, status: SentCommand['status'] = 'ok', deviceId = 'd1'): SentCommand => {
  n++;
  return { requestId: `r-${String(n).padStart(3, '0')}`, deviceId, name, args, sentAt: 1000 + n, expiresAt: 9e12, status };
};
const ids = (cs: SentCommand[]) => activeGeofences('d1', cs).map((f) => `${f.id}:${f.source}`).sort();

describe('activeGeofences', () => {
  it('follows visit.start/visit.end and geofence.set/clear as the agent does', () => {
    const home = { lat: 52.5, lon: 13.4, radiusM: 60 };
    expect(ids([cmd('visit.start', { visitId: 'v1', consent: true, geofence: home })])).toEqual(['v1:visit']);
    expect(ids([cmd('visit.start', { visitId: 'v1', consent: true, geofence: home }), cmd('visit.end', {})])).toEqual([]);
    expect(ids([cmd('visit.start', { visitId: 'v1', consent: false })])).toEqual([]);
    expect(ids([cmd('geofence.set', { id: 'a', ...home }), cmd('geofence.set', { id: 'b', ...home }), cmd('geofence.clear', { id: 'a' })])).toEqual(['b:geofence']);
    expect(ids([cmd('geofence.set', { id: 'a', ...home }), cmd('visit.start', { visitId: 'v2', consent: true, geofence: home }), cmd('geofence.clear', {})])).toEqual([]);
    const moved = activeGeofences('d1', [cmd('geofence.set', { id: 'a', ...home }), cmd('geofence.set', { id: 'a', lat: 1, lon: 2, radiusM: 9 })]);
    expect(moved).toMatchObject([{ id: 'a', lat: 1, lon: 2, radiusM: 9 }]);
  });

  it('ignores what the device refused, failed or let expire, counts pending, replays by send time whatever the order given', () => {
    const home = { lat: 52.5, lon: 13.4, radiusM: 60 };
    expect(ids([cmd('geofence.set', { id: 'a', ...home }, 'refused'), cmd('geofence.set', { id: 'b', ...home }, 'expired'), cmd('geofence.set', { id: 'c', ...home }, 'error')])).toEqual([]);
    const pending = activeGeofences('d1', [cmd('geofence.set', { id: 'p', ...home }, 'pending')]);
    expect(pending).toMatchObject([{ id: 'p', status: 'pending' }]);
    const set = cmd('geofence.set', { id: 'a', ...home });
    const clear = cmd('geofence.clear', { id: 'a' });
    expect(ids([clear, set])).toEqual([]);
    expect(ids([cmd('geofence.set', { id: 'x', ...home }, 'ok', 'd2')])).toEqual([]);
  });
});
