import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, Mosquitto, nextStored, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface StoredLocation { fix: { lat: number; lon: number }; reason?: string }
interface StoredAlarm { alarmId: string; state: string; fix?: { lat: number; lon: number; stale?: boolean; ageMs?: number } }

describe('walking skeleton: simulated GPS and button → agent → Mosquitto → ingest', () => {
  let mosquitto: Mosquitto;
  beforeAll(async () => {
    mosquitto = await Mosquitto.start();
    return () => mosquitto.dispose();
  });

  // Points 12 m apart: the policy ignores moves smaller than the fix's own accuracy (HDOP 0.92 × 5 m).
  it('stores every route point the receiver sent, and an SOS with the last fix', async () => {
    const world = cleanup.add(
      await World.create({ logger, brokerUrl: mosquitto.url, autoFeed: false, gpsSpeedMps: 12, agentConfig: { gps: { displacementM: 1, minIntervalS: 0, intervalS: 3600 } } }),
      (w) => w.close(),
    );
    await waitFor('agent birth', () => world.ingest.stats.accepted.status);
    await world.agent.waitForLine('sysfs watching button line');
    await world.agent.waitForLine(/"state":"connected".*"msg":"gps link"/);

    const points = 8;
    for (let i = 0; i < points; i++) {
      const arrived = nextStored<StoredLocation>(world.ingest, 'location');
      world.feed.tick(Date.now());
      await arrived;
    }
    const stored = readStream<StoredLocation>(world.storeDir, world.deviceId, 'location').map((r) => r.m.fix);
    expect(world.feed.sent).toHaveLength(points);
    for (const p of world.feed.sent) {
      const match = stored.find((s) => Math.abs(s.lat - p.lat) < 1e-6 && Math.abs(s.lon - p.lon) < 1e-6);
      expect(match, `route point ${p.lat},${p.lon} not stored; stored: ${JSON.stringify(stored)}`).toBeDefined();
    }

    const alarm = nextStored<StoredAlarm>(world.ingest, 'alarm', (m) => m.state === 'raised');
    await world.pressSos(2000);
    const a = await alarm;
    const last = world.feed.sent.at(-1)!;
    expect(a.fix).toBeDefined();
    expect(Math.abs(a.fix!.lat - last.lat)).toBeLessThan(1e-6);
    expect(Math.abs(a.fix!.lon - last.lon)).toBeLessThan(1e-6);
    expect(a.fix!.stale).toBe(true);
    expect(a.fix!.ageMs).toBeGreaterThanOrEqual(0);
  });
});
