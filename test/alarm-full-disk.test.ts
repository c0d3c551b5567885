// The disk fills up during an SOS (issue 9, finding 4). The agent's data dir
// is a real 16 MiB tmpfs; the agent (a child process, the simulator's camera
// recording the SOS) runs against a real Mosquitto and the ingest. Once the
// alarm is out, a filler takes every last free byte of that filesystem. The
// alarm must keep being re-sent and reach the ingest, the agent must not
// crash (saving the SOS state used to throw from the re-send timer), capture
// must stop to keep room for alarms, and once the disk has room again the
// acknowledgement ends the loop and the SOS session's evidence arrives whole.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, Mosquitto, World, makeTempDir, nextStored, waitFor } from './support/index.js';
import { childPids, command, runVerify, storedSessions } from './support/evidence.js';
import { mountSmallFs, type SmallFs } from './support/small-fs.js';

const logger = createLogger('test', { level: 'warn' });
const RESEND_S = 2;

interface AlarmMsg { alarmId: string; state: string; escalation: number; ts: number }

describe('SOS under a full disk', () => {
  const cleanup = new Cleanup();
  let world: World;
  let disk: SmallFs;

  beforeAll(async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-fulldisk-'), (d) => d.remove());
    disk = cleanup.add(await mountSmallFs(join(workDir.path, 'agent-data'), 16 * 1024 * 1024), (f) => f.unmount());
    world = cleanup.add(await World.create({
      logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true, storeDir: join(workDir.path, 'store'),
      agentConfig: { button: { resendS: RESEND_S }, transport: { alarmReserveBytes: 2 * 1024 * 1024 } },
    }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('sysfs watching button line');
    await world.agent.waitForLine('"recorder":"running"', 30_000);
  });
  afterAll(() => cleanup.run());

  it('keeps re-sending the alarm to the ingest with the disk full, does not crash, stops capture, and delivers everything once there is room', async () => {
    const raised = nextStored<AlarmMsg>(world.ingest, 'alarm', (a) => a.state === 'raised', 30_000);
    await world.pressSos();
    const alarm = await raised;
    await world.agent.waitForLine('SOS raised');

    const filled = await disk.fill();
    expect(filled).toBeGreaterThan(0);
    expect(await disk.freeBytes()).toBe(0);
    const filledAt = Date.now();

    // Re-sends made after the disk was full reach the ingest, their escalation still rising.
    const later = await waitFor('two re-sends made on the full disk', () => {
      const a = readStream<AlarmMsg>(world.storeDir, world.deviceId, 'alarm').map((l) => l.m).filter((m) => m.alarmId === alarm.alarmId && m.state === 'raised' && m.ts > filledAt);
      return a.length >= 2 ? a : undefined;
    }, 30_000, 100);
    expect(later[1].escalation).toBeGreaterThan(later[0].escalation);
    expect(world.agent.running, 'the agent died on the full disk').toBe(true);
    // The SOS recording is stopped before it can take what is left.
    await world.agent.waitForLine('disk nearly full: evidence capture stopped', 30_000);
    await waitFor('ffmpeg stopped', () => childPids(world.agent.pid!, 'ffmpeg').length === 0 || undefined, 15_000, 100);
    // The SOS state could not be saved the ordinary way, and the alarm went on anyway.
    expect(world.agent.lines.some((l) => l.includes('could not store alarm') && !l.includes('reserved'))).toBe(false);

    await disk.unfill();
    const acked = nextStored<AlarmMsg>(world.ingest, 'alarm', (a) => a.alarmId === alarm.alarmId && a.state === 'acknowledged', 30_000);
    const r = await command(world, 'alarm.ack', { alarmId: alarm.alarmId });
    expect(r.status, r.reason).toBe('ok');
    await acked;

    // The SOS session was closed when capture stopped; its manifest (retried once the disk took it) and every chunk arrive and verify.
    const session = await waitFor('the SOS session manifest and all its chunks', () => {
      const s = storedSessions(world.storeDir, world.deviceId).find((x) => x.manifest?.alarms.includes(alarm.alarmId));
      return s !== undefined && s.chain.length === s.manifest!.chunks.length ? s : undefined;
    }, 90_000, 250);
    expect(session.manifest).toMatchObject({ trigger: 'sos', alarms: [alarm.alarmId] });
    const verify = await runVerify(world.storeDir);
    expect(verify.code, verify.output).toBe(0);
    await world.agent.waitForLine('disk has room again', 30_000);
    expect(world.agent.running).toBe(true);
  }, 180_000);
});
