import { Envelope } from '../agent/transport/envelope.js';

/** The devices of a load test and their boot ids (fixed, so another process makes the same messages). */
export function fleet(devices: number, prefix = 'load'): Array<{ deviceId: string; bootId: string }> {
  return Array.from({ length: devices }, (_, i) => ({ deviceId: `${prefix}-${i}`, bootId: `bench${String(i).padStart(4, '0')}` }));
}

/** `count` live location messages of one device, as the agent sends them (JSON text). */
export function locationMessages(deviceId: string, bootId: string, count: number): string[] {
  const env = new Envelope(deviceId, bootId);
  return Array.from({ length: count }, (_, i) => JSON.stringify(env.make('location', {
    fix: { lat: 35.6467 + i * 1e-5, lon: 139.6533 + i * 1e-5, time: 1_795_000_000_000 + i * 30_000, fixType: '3d', altM: 38.5, speedMps: 1.4, courseDeg: 61.3, accuracyM: 4.6, hdop: 0.92, satsUsed: 9 },
    reason: 'interval',
  })));
}
