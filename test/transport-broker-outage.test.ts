// The broker goes away for 30 s while the agent keeps producing locations
// (every fix reported), and the wearer raises an SOS during the outage. When
// the broker is back (same port, same persistence), everything arrives: every
// point the receiver sent, the alarm before the backlog that queued around it,
// and the backlog as batches marked backfill.
//
// "Backlog" = locations the agent made (envelope ts) after the broker was
// stopped and before it was listening again: they cannot have been delivered
// live. "Receipt order" = the order of the ingest's 'stored' events, which is
// also the order lines were appended to its files.
import mqtt from 'mqtt';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Ingest, readStream } from '../platform/ingest/index.js';
import { deviceTopic } from '../protocol/index.js';
import { Cleanup, makeTempDir, Mosquitto, nextStored, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const OUTAGE_MS = 30_000;

interface Loc { id: string; ts: number; bootId: string; seq: number; backfill?: boolean; fix: { lat: number; lon: number; time: number } }
interface Alarm { id: string; ts: number; alarmId: string; state: string; escalation: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('transport across a broker outage', () => {
  let mosquitto: Mosquitto;
  beforeAll(async () => {
    mosquitto = await Mosquitto.start();
    return () => mosquitto.dispose();
  });

  it('delivers every location, the SOS before the backlog, and the backlog as backfill batches', async () => {
    const world = cleanup.add(
      // 6 m per 200 ms epoch, past the fix's own accuracy (4.6 m): every fix is a report.
      await World.create({ logger, brokerUrl: mosquitto.url, gpsIntervalMs: 200, gpsSpeedMps: 30, agentConfig: { gps: { displacementM: 1, minIntervalS: 0, intervalS: 1 } } }),
      (w) => w.close(),
    );
    const receipts: Array<{ stream: string; id: string }> = [];
    world.ingest.on('stored', (_d: string, stream: string, m: { id: string }) => receipts.push({ stream, id: m.id }));
    const connects = () => world.agent.lines.filter((l) => l.includes('"msg":"connected"')).length;

    await waitFor('live locations before the outage', () => (world.ingest.stats.accepted.location ?? 0) >= 5);
    await world.agent.waitForLine('sysfs watching button line');

    const stoppedAt = Date.now();
    await mosquitto.stop();
    // The outage, for the device, starts when it notices the connection is gone: a location made
    // between the broker's stop and that moment may still have been sent live (and persisted by the
    // stopping broker), so the backlog is counted from the agent's own "disconnected" log time.
    const disconnectedAt = (JSON.parse(await world.agent.waitForLine('"msg":"disconnected"')) as { time: number }).time;
    await sleep(3000);
    await world.pressSos(2000);
    const raised = await world.agent.waitForLine('"msg":"SOS raised"');
    const alarmId = (JSON.parse(raised) as { alarmId: string }).alarmId;
    await sleep(OUTAGE_MS - (Date.now() - stoppedAt)); // the outage itself is the scenario, not a wait for an event
    const before = connects();
    await mosquitto.restart();
    await waitFor('the agent to reconnect', () => connects() > before, 30_000);
    // ...and ends when the agent is connected again, by its own log: the restart resolves only once
    // the port answers our probe, and the agent's backoff may have reconnected (and sent a location
    // live) a few milliseconds before that.
    const connectedLines = world.agent.lines.filter((l) => l.includes('"msg":"connected"'));
    const restartedAt = (JSON.parse(connectedLines[before]) as { time: number }).time;
    // A little live traffic after the backlog, then the receiver stops and everything drains.
    await sleep(2000);
    world.feed.stop();
    const sent = [...world.feed.sent];

    const stored = () => readStream<Loc>(world.storeDir, world.deviceId, 'location');
    const firstTime = stored()[0].m.fix.time;
    const expected = sent.filter((p) => p.time >= firstTime);
    const missingPoints = () => {
      const times = new Set(stored().map((r) => r.m.fix.time));
      return expected.filter((p) => !times.has(p.time));
    };
    await waitFor('every sent point at the ingest', () => missingPoints().length === 0, 30_000, 100).catch(() => undefined);
    expect(missingPoints(), 'route points the receiver sent that never arrived').toEqual([]);
    for (const r of stored()) {
      const p = expected.find((e) => e.time === r.m.fix.time);
      if (p === undefined) continue;
      expect(Math.abs(r.m.fix.lat - p.lat) + Math.abs(r.m.fix.lon - p.lon)).toBeLessThan(1e-6);
    }
    const locations = stored();
    expect(new Set(locations.map((r) => r.m.id)).size).toBe(locations.length);
    // No location of the single boot is missing: seqs are 0..n-1.
    expect(locations.map((r) => r.m.seq).sort((a, b) => a - b)).toEqual(locations.map((_, i) => i));

    // A location's ts is its fix's GPS time; the agent reports the fix only when its epoch closes
    // (the next epoch's first sentence, one GPS interval later). A fix stamped just before the
    // reconnect may therefore have been made, and sent live, just after it.
    const epochDelayMs = 2 * 200;
    const backlog = locations.filter((r) => r.m.ts > disconnectedAt && r.m.ts < restartedAt - epochDelayMs);
    expect(backlog.length, 'locations made during the outage').toBeGreaterThan(OUTAGE_MS / 200 / 2);
    const single = backlog.filter((r) => r.topic.endsWith('/location') || r.m.backfill !== true);
    expect(single.map((r) => r.m.seq), 'backlog locations sent one by one instead of in backfill batches').toEqual([]);

    const alarms = readStream<Alarm>(world.storeDir, world.deviceId, 'alarm').map((r) => r.m).filter((a) => a.alarmId === alarmId);
    expect(alarms.length, 'the SOS raised during the outage').toBeGreaterThan(0);
    expect(alarms[0].state).toBe('raised');
    const position = (id: string) => receipts.findIndex((r) => r.id === id);
    const firstBacklog = Math.min(...backlog.map((r) => position(r.m.id)));
    expect(firstBacklog).toBeGreaterThanOrEqual(0);
    // Every alarm message queued during the outage (the raise and its re-sends) beats the location backlog.
    const queuedAlarms = alarms.filter((a) => a.ts < restartedAt);
    for (const a of queuedAlarms) {
      expect(position(a.id), `alarm ${a.id} (escalation ${a.escalation}) stored after the first backlog location`).toBeLessThan(firstBacklog);
    }
    expect(position(alarms[0].id)).toBeLessThan(firstBacklog);
    expect(world.ingest.stats.rejected).toBe(0);
  });

  it('with persistence on, the broker holds for the ingest what devices publish while it is still reconnecting after a restart', async () => {
    // A test about the broker's persistence setting (off by default): a raw client here has no outbox to re-send from.
    const mosquitto = cleanup.add(await Mosquitto.start({ persistence: true }), (m) => m.dispose());
    const store = cleanup.add(await makeTempDir('nrec-store-'), (d) => d.remove());
    const ingest = cleanup.add(await Ingest.open({ brokerUrl: mosquitto.url, storeDir: join(store.path, "store"), logger }), (i) => i.stop());
    await ingest.start();
    await mosquitto.restart();
    // A device that reconnects faster than the ingest (its backoff is shorter than the
    // ingest's reconnect period) publishes at once; the broker must hold it for the ingest.
    const device = cleanup.add(await mqtt.connectAsync(mosquitto.url, { clientId: 'probe-dev', reconnectPeriod: 0 }), (c) => c.endAsync());
    const now = Date.now();
    const msg = { v: 1, id: 'probe-boot-loc-0', deviceId: 'probe-dev', bootId: 'probe-boot', seq: 0, ts: now, fix: { lat: 52.5, lon: 13.4, time: now, fixType: '3d' } };
    const arrived = nextStored<{ id: string }>(ingest, 'location', (m) => m.id === msg.id, 15_000);
    await device.publishAsync(deviceTopic('probe-dev', 'location'), JSON.stringify(msg), { qos: 1 });
    expect((await arrived).id).toBe(msg.id);
  });
});
