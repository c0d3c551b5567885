import { describe, expect, it } from 'vitest';
import type { ApiAlarm, ApiDevice } from './types.js';
import { ConsoleState } from './state.js';

const alarm = (o: Partial<ApiAlarm> = {}): ApiAlarm => ({
  deviceId: 'd1', alarmId: 'a1', state: 'raised', deviceState: 'raised', raisedAt: 1000, receivedAt: 1100, trigger: 'button', resends: 0,
  tier: 0, history: [{ at: 1100, state: 'raised' }], attempts: [], ...o,
});
const device = (id: string, o: Partial<ApiDevice> = {}): ApiDevice => ({ id, status: 'online', keyRegistered: true, ...o });
const position = (deviceId: string, fixTime: number, lat = 52.5) => ({ deviceId, position: { deviceId, msgId: `m${fixTime}`, fixTime, rx: fixTime + 50, ts: fixTime, lat, lon: 13.4, fixType: '3d' as const, stale: false, backfill: false } });

describe('ConsoleState', () => {
  it('holds the stream\'s events during a reload and applies them after the snapshot, so nothing is lost or rolled back', () => {
    let now = 10_000;
    const s = new ConsoleState(() => now);
    s.beginReload();
    // Happens while the snapshot is on its way: the ack, and a new device's position.
    s.event('alarm', alarm({ state: 'acknowledged', acknowledgedBy: 'Anna', history: [{ at: 1100, state: 'raised' }, { at: 5000, state: 'acknowledged', by: 'Anna' }] }));
    s.event('position', position('d2', 9000));
    expect(s.alarms.size).toBe(0);
    // The snapshot was read before the ack.
    s.applySnapshot({ now: 10_500, devices: [device('d1')], alarms: [alarm()] });
    expect(s.alarms.get('d1/a1')).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'Anna' });
    expect([...s.devices.keys()].sort()).toEqual(['d1', 'd2']);
    expect(s.offsetMs).toBe(500);
    now = 11_000;
    expect(s.serverNow()).toBe(11_500);
  });

  it('never lets an older picture of an alarm replace a newer one (an action\'s answer can overtake the stream)', () => {
    const s = new ConsoleState(() => 0);
    s.applySnapshot({ now: 0, devices: [], alarms: [] });
    const acked = alarm({ state: 'acknowledged', history: [{ at: 1, state: 'raised' }, { at: 2, state: 'notifying' }, { at: 3, state: 'acknowledged' }], attempts: [] });
    s.putAlarm(acked);
    s.event('alarm', alarm({ state: 'notifying', history: [{ at: 1, state: 'raised' }, { at: 2, state: 'notifying' }] }));
    expect(s.alarms.get('d1/a1')?.state).toBe('acknowledged');
    // The device's answer changes no state but is newer: it is taken.
    s.event('alarm', { ...acked, deviceState: 'acknowledged', deviceAcknowledgedAt: 4 });
    expect(s.alarms.get('d1/a1')?.deviceState).toBe('acknowledged');
  });

  it('keeps each device\'s last position and the last hour of its track, and follows online state', () => {
    let now = 4 * 3_600_000;
    const s = new ConsoleState(() => now);
    s.applySnapshot({ now, devices: [device('d1')], alarms: [], tracks: [{ deviceId: 'd1', points: [{ t: now - 2 * 3_600_000, lat: 1, lon: 1 }, { t: now - 1000, lat: 2, lon: 2 }] }] });
    s.event('position', position('d1', now - 500, 3));
    s.event('position', position('d1', now - 800, 4)); // older (a backfill): not the last position, not appended
    expect(s.devices.get('d1')?.lastPosition).toMatchObject({ lat: 3, fixTime: now - 500 });
    expect(s.tracks.get('d1')!.map((p) => p.lat)).toEqual([2, 3]);
    s.event('device', { deviceId: 'd1', status: 'offline', offlineCause: 'will' });
    expect(s.devices.get('d1')).toMatchObject({ status: 'offline', offlineCause: 'will' });
    s.event('device', { deviceId: 'd1', status: 'online' });
    expect(s.devices.get('d1')?.offlineCause).toBeUndefined();
    now += 1;
  });

  it('tells its listeners what changed', () => {
    const s = new ConsoleState(() => 0);
    const seen: string[] = [];
    s.subscribe((t, d) => seen.push(`${t}:${d ?? ''}`));
    s.event('alarm', alarm());
    s.event('position', position('d9', 5));
    s.streamState({ state: 'down', since: 0, reason: 'x' });
    expect(seen).toEqual(['alarms:d1', 'tracks:d9', 'stream:']);
  });

  it('replaces the open alarms with a polled list (the benchmark\'s baseline)', () => {
    const s = new ConsoleState(() => 0);
    s.pollAlarms([alarm({ alarmId: 'a1' }), alarm({ alarmId: 'a2' })]);
    s.pollAlarms([alarm({ alarmId: 'a2' })]);
    expect([...s.alarms.keys()]).toEqual(['d1/a2']);
  });
});
