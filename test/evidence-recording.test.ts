// A visit recorded end to end: the platform starts it with `record.start` and
// stops it with `record.stop` (commands through Mosquitto), the agent (a child
// process) records the simulator's camera with the real ffmpeg for over 30 s,
// uploads signed chunks on its bulk connection, and the ingest stores them.
//
// "Recorded duration" is defined from the signed chunk metadata: the span
// from the first chunk's startTime to the last chunk's endTime. Those times
// come from ffmpeg's own segment list (wall-clock start of the run plus each
// segment's offsets), so they are what the device claims it captured; the
// test checks the claim three ways: the span equals the sum of the chunks'
// durations (no hole between chunks), it covers the session's startedAt ..
// endedAt window from the manifest (a visit keeps the chunk in progress when
// it starts and the chunk covering its stop), and the stored bytes, joined
// with ffmpeg's concat demuxer, play for that long ± 1 s (by container
// duration and by counting video frames at the profile's 10 fps).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createLogger } from '../lib/logger.js';
import { Cleanup, Mosquitto, World, makeTempDir, waitFor } from './support/index.js';
import { command, concatAndProbe, probe, runVerify, signedSeconds, storedSessions, type StoredSession } from './support/evidence.js';

const logger = createLogger('test', { level: 'warn' });
const FPS = 10; // World's sim camera profile
const VISIT = 'visit-rec-1';

describe('evidence recording', () => {
  const cleanup = new Cleanup();
  let world: World;

  beforeAll(async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-evidence-'), (d) => d.remove());
    world = cleanup.add(await World.create({ logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
  });
  afterAll(() => cleanup.run());

  it('records ≥ 30 s between record.start and record.stop; every chunk plays, the session plays for its recorded duration, verify passes', async () => {
    const started = await command(world, 'record.start', { visitId: VISIT });
    expect(started.status).toBe('ok');
    const ofVisit = () => storedSessions(world.storeDir, world.deviceId).find((s) => s.chain[0]?.meta.visitId === VISIT);
    // Uploads keep up with capture on localhost, so stored chunks spanning 30 s mean ≥ 30 s were recorded.
    await waitFor('30 s of the visit stored at the ingest', () => {
      const s = ofVisit();
      return s !== undefined && s.chain.at(-1)!.meta.endTime - s.chain[0].meta.startTime >= 30_000;
    }, 90_000, 250);
    const stopped = await command(world, 'record.stop');
    expect(stopped.status).toBe('ok');
    const session = await waitFor('the visit manifest and all its chunks stored', () => {
      const s = ofVisit();
      return s?.manifest !== undefined && s.chain.length === s.manifest.chunks.length ? s : undefined;
    }, 40_000, 250);
    const m = session.manifest!;

    expect(m).toMatchObject({ deviceId: world.deviceId, trigger: 'visit', visitId: VISIT, gaps: [] });
    expect(session.chain.map((r) => r.meta.index)).toEqual(session.chain.map((_, i) => i));
    expect(m.chunks.map((c) => c.link)).toEqual(session.chain.map((r) => r.link));
    expect(session.files).toEqual(session.chain.map((r) => `chunk-${String(r.meta.index).padStart(6, '0')}.ts`));

    // Chunks follow each other without a hole: one ffmpeg run, times from its segment list.
    for (let i = 1; i < session.chain.length; i++) expect(session.chain[i].meta.startTime, `chunk ${i} start`).toBe(session.chain[i - 1].meta.endTime);
    const first = session.chain[0].meta;
    const last = session.chain.at(-1)!.meta;
    const recordedS = (last.endTime - first.startTime) / 1000;
    expect(recordedS).toBeCloseTo(signedSeconds(session.chain), 2);
    expect(recordedS).toBeGreaterThanOrEqual(30);
    expect(first.startTime).toBeLessThanOrEqual(m.startedAt);
    expect(last.endTime).toBeGreaterThanOrEqual(m.endedAt);

    await expectEveryChunkPlays(session);

    const tmp = cleanup.add(await makeTempDir('nrec-concat-'), (d) => d.remove());
    const joined = await concatAndProbe(session.files.map((f) => join(session.dir, f)), tmp.file('session.ts'));
    expect(joined.ok, joined.error).toBe(true);
    expect(Math.abs(joined.durationS - recordedS), `concatenated ${joined.durationS} s vs recorded ${recordedS} s`).toBeLessThanOrEqual(1);
    expect(Math.abs(joined.videoFrames / FPS - recordedS), `${joined.videoFrames} frames at ${FPS} fps vs recorded ${recordedS} s`).toBeLessThanOrEqual(1);

    // The platform store indexes the visit: every chunk, its file, and the manifest verified against them.
    const visit = await waitFor('the visit indexed as verified', async () => {
      const v = await world.ingest.store.visit(world.deviceId, session.sessionId);
      return v?.verification === 'verified' ? v : undefined;
    }, 20_000, 250);
    expect(visit).toMatchObject({ visitId: VISIT, trigger: 'visit', state: 'closed' });
    if (visit === undefined) throw new Error('unreachable');
    expect(visit.chunks.map((c) => c.sha256)).toEqual(session.chain.map((r) => r.meta.sha256));
    expect(visit.chunks.map((c) => c.path)).toEqual(session.files.map((f) => join(session.dir, f)));

    const verify = await runVerify(world.storeDir);
    expect(verify.output).toContain(`${world.deviceId}/${session.sessionId}: ${session.chain.length} chunks, manifest — OK`);
    expect(verify.code, verify.output).toBe(0);
  }, 150_000);
});

/** Every stored chunk is readable by ffprobe and as long as its signed metadata says. */
async function expectEveryChunkPlays(s: StoredSession): Promise<void> {
  for (const r of s.chain) {
    const file = `chunk-${String(r.meta.index).padStart(6, '0')}.ts`;
    const p = await probe(join(s.dir, file));
    expect(p.ok, `${file}: ${p.error}`).toBe(true);
    expect(Math.abs(p.durationS - r.meta.durationS), `${file}: ffprobe ${p.durationS} s, meta ${r.meta.durationS} s`).toBeLessThanOrEqual(0.5);
    expect(p.videoFrames, `${file} video frames`).toBeGreaterThan(0);
  }
}
