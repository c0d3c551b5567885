// SOS while the recorder only buffers (media mode 'buffering', World's default):
// the agent keeps the last 8 s of 4 s chunks and deletes older ones. Pressing
// the alarm button opens an SOS session that starts with those buffered chunks
// (evidence from before the alarm) and records 12 s past it. Asserted on what
// the ingest stored: pre-event chunks that ended before the alarm was raised,
// post-event coverage, the alarm id in the signed manifest, verify passes.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Cleanup, Mosquitto, World, makeTempDir, nextStored, waitFor } from './support/index.js';
import { probe, runVerify, storedSessions } from './support/evidence.js';

const logger = createLogger('test', { level: 'warn' });
const BUFFER_S = 8; // World's sim profile: bufferS 8, chunkS 4, postEventS 12
const POST_EVENT_S = 12;

interface AlarmMsg { alarmId: string; state: string; raisedAt: number }

describe('evidence on SOS', () => {
  const cleanup = new Cleanup();
  let world: World;

  beforeAll(async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-evidence-'), (d) => d.remove());
    world = cleanup.add(await World.create({ logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('sysfs watching button line');
  });
  afterAll(() => cleanup.run());

  it('an SOS while buffering stores the pre-event chunks, the post-event time and the alarm id; verify passes', async () => {
    const chunkDir = join(String(world.agentConfig.dataDir), 'chunks');
    const chunkFiles = () => readdirSync(chunkDir).filter((f) => /^chunk-\d+\.ts$/.test(f));
    // ffmpeg writes one chunk at a time, so three files on disk are at least two finished, buffered chunks.
    await waitFor('two buffered chunks', () => chunkFiles().length >= 3, 40_000, 100);
    expect(storedSessions(world.storeDir, world.deviceId), 'buffering uploads nothing').toEqual([]);

    const raised = nextStored<AlarmMsg>(world.ingest, 'alarm', (a) => a.state === 'raised', 30_000);
    await world.pressSos();
    const alarm = await raised;

    const session = await waitFor('the SOS session manifest and all its chunks', () => {
      const s = storedSessions(world.storeDir, world.deviceId).find((x) => x.manifest?.alarms.includes(alarm.alarmId));
      return s !== undefined && s.chain.length === s.manifest!.chunks.length ? s : undefined;
    }, 60_000, 250);
    const m = session.manifest!;
    expect(m).toMatchObject({ trigger: 'sos', alarms: [alarm.alarmId], gaps: [] });
    expect(session.chain.map((r) => r.meta.index)).toEqual(session.chain.map((_, i) => i));

    const metas = session.chain.map((r) => r.meta);
    const before = metas.filter((c) => c.endTime <= alarm.raisedAt);
    // The buffer held (at least) two whole chunks when the button went down; both precede the alarm.
    expect(before.length, `chunks ending before the alarm at ${alarm.raisedAt}: ${JSON.stringify(metas.map((c) => [c.startTime, c.endTime]))}`).toBeGreaterThanOrEqual(2);
    expect(metas[0].startTime).toBeLessThanOrEqual(alarm.raisedAt - BUFFER_S * 1000 + 1000);
    expect(metas[0].startTime).toBeLessThan(m.startedAt);
    expect(metas.at(-1)!.endTime).toBeGreaterThanOrEqual(alarm.raisedAt + POST_EVENT_S * 1000);
    for (let i = 1; i < metas.length; i++) expect(metas[i].startTime, `chunk ${i} follows chunk ${i - 1}`).toBe(metas[i - 1].endTime);

    for (const f of session.files) {
      const p = await probe(join(session.dir, f));
      expect(p.ok, `${f}: ${p.error}`).toBe(true);
    }
    const verify = await runVerify(world.storeDir);
    expect(verify.output).toContain(`${world.deviceId}/${session.sessionId}: ${session.chain.length} chunks, manifest — OK`);
    expect(verify.code, verify.output).toBe(0);
  }, 120_000);
});
