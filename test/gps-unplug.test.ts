// The GPS receiver misbehaving under a running agent (a real child process
// reading a real pty with serialport, publishing through Mosquitto): unplugged
// and plugged back in, and talking garbage. Asserted on what reached the ingest.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { GpsFeed, type SentPoint } from '../simulator/gps/gps-feed.js';
import { epochSentences } from '../simulator/gps/nmea-writer.js';
import { Cleanup, createPtyPair, Mosquitto, nextStored, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });

interface StoredEvent { kind: string; severity: string; message: string; data?: { state?: string } }
interface StoredLocation { fix: { lat: number; lon: number; time: number } }
interface StoredResult { requestId: string; name: string; status: string; result?: Record<string, unknown> }

// 12 m/s with every epoch eligible: each valid epoch becomes a report (the policy ignores moves within the fix's accuracy, 4.6 m here).
const SPEED_MPS = 12;
const reportEveryEpoch = { gps: { displacementM: 1, minIntervalS: 0, intervalS: 3600 } };

const near = (fix: { lat: number; lon: number }, p: { lat: number; lon: number }) => Math.abs(fix.lat - p.lat) < 1e-6 && Math.abs(fix.lon - p.lon) < 1e-6;
const linkEvent = (state: string) => (m: StoredEvent) => m.kind === 'gps.link' && m.data?.state === state;

describe('GPS receiver faults while the agent runs', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;
  /** The receiver plugged in now: the World's at first, the replugged one after the unplug test. */
  let receiver: { writer: Writable; feed: GpsFeed };

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    world = cleanup.add(await World.create({ logger, brokerUrl: mosquitto.url, gpsSpeedMps: SPEED_MPS, agentConfig: reportEveryEpoch }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status);
    await nextStored(world.ingest, 'location');
    receiver = { writer: world.gps.writer, feed: world.feed };
  });
  afterAll(() => cleanup.run());

  /** A ping round trip: the agent's command path (and so the process) is alive. */
  async function ping(): Promise<StoredResult> {
    const id = `t-ping-${randomUUID().slice(0, 8)}`;
    const answered = nextStored<StoredResult>(world.ingest, 'result', (r) => r.requestId === id);
    await world.ingest.sendCommand(world.deviceId, 'ping', {}, 60_000, id);
    return answered;
  }

  it('unplug then replug: the outage shows as gps.link disconnected then connected, and reports resume', async () => {
    const linkEvents = () => readStream<StoredEvent>(world.storeDir, world.deviceId, 'event').map((r) => r.m).filter((m) => m.kind === 'gps.link');
    const before = linkEvents().length;

    const disconnected = nextStored<StoredEvent>(world.ingest, 'event', linkEvent('disconnected'), 30_000);
    world.feed.stop();
    await world.gps.close();
    const down = await disconnected;
    expect(down.severity).toBe('warning');
    expect(world.agent.running).toBe(true);
    expect((await ping()).status).toBe('ok');

    // Plugged back in: the same device path (as a /dev/serial/by-id name would be), a fresh receiver.
    const connected = nextStored<StoredEvent>(world.ingest, 'event', linkEvent('connected'), 30_000);
    const pair = cleanup.add(await createPtyPair(world.gps.devicePath), (p) => p.close());
    const feed = cleanup.add(new GpsFeed(pair.writer, { intervalMs: 1000, speedMps: SPEED_MPS }), (f) => f.stop());
    const resumed = nextStored<StoredLocation>(world.ingest, 'location', (m) => feed.sent.some((p) => near(m.fix, p)), 30_000);
    feed.start();
    receiver = { writer: pair.writer, feed };
    expect((await connected).severity).toBe('info');
    const loc = await resumed;
    expect(feed.sent.some((p) => p.time === loc.fix.time)).toBe(true);

    // The outage in order: connected (boot) … disconnected … connected, nothing else in between.
    const states = linkEvents().slice(before).map((e) => e.data?.state);
    const firstDown = states.indexOf('disconnected');
    expect(firstDown).toBeGreaterThanOrEqual(0);
    expect(states.indexOf('connected', firstDown)).toBeGreaterThan(firstDown);
    expect(world.agent.running).toBe(true);
    expect((await ping()).result).toMatchObject({ pong: true });
  });

  it('garbage on the line (random bytes, an overlong line, wrong checksums): reported as no-data, no harm, later sentences report again', async () => {
    receiver.feed.stop();
    const writer = receiver.writer;
    const write = (data: string | Buffer) => new Promise<void>((resolve, reject) => writer.write(data, (err) => (err ? reject(err) : resolve())));
    // Well-formed sentences with wrong checksums, at a position far from the route: must never be reported.
    const decoy = epochSentences({ time: new Date(), lat: 10.5, lon: 20.5, altM: 1, speedMps: 0, courseDeg: 0, fix: true }).text
      .replace(/\*([0-9A-F]{2})\r\n/g, (_m, cs: string) => `*${cs === '00' ? '01' : '00'}\r\n`);

    // Garbage keeps arriving, but it is not data: the link must say no-data (a receiver at the wrong baud rate looks like this).
    const noData = nextStored<StoredEvent>(world.ingest, 'event', linkEvent('no-data'), 30_000);
    let talking = true;
    const garbage = (async () => {
      // Longer than the splitter's bound (256), no terminator: dropped, never buffered whole.
      await write(`$GNGGA,${'9'.repeat(20_000)}`);
      while (talking) {
        await write(randomBytes(512));
        await write('\r\n');
        await write(decoy);
        await new Promise((r) => setTimeout(r, 100)); // a receiver's pace, not a wait for an outcome
      }
    })();
    const quiet = await noData.finally(() => (talking = false));
    await garbage;
    expect(quiet.severity).toBe('warning');
    expect(quiet.message).toContain('no valid NMEA sentence');

    const connected = nextStored<StoredEvent>(world.ingest, 'event', linkEvent('connected'), 30_000);
    const feed = new GpsFeed(writer, { intervalMs: 1000, speedMps: SPEED_MPS });
    const points: SentPoint[] = [];
    const arrived = nextStored<StoredLocation>(world.ingest, 'location', (m) => points.some((p) => near(m.fix, p)), 30_000);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      const p = feed.tick(t0 + i * 1000);
      if (p) points.push(p);
    }
    await arrived;
    await connected;

    const stored = readStream<StoredLocation>(world.storeDir, world.deviceId, 'location').map((r) => r.m.fix);
    expect(stored.some((f) => Math.abs(f.lat - 10.5) < 0.01 || Math.abs(f.lon - 20.5) < 0.01)).toBe(false);
    expect(world.agent.running).toBe(true);
    expect((await ping()).status).toBe('ok');
  });
});
