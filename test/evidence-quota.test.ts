// The evidence quota filled while offline. The agent records a visit
// (started by command while the broker is up), then Mosquitto goes down: no
// chunk can be uploaded, so every new chunk is unuploaded evidence, which the
// agent must never delete. With media.quotaBytes at its 1 MiB minimum (~5
// chunks of the sim camera), the quota fills: the agent stops capture, closes
// the session and queues a critical `storage` event on its alarm lane. When
// the broker is back the event reaches the ingest, every chunk the session
// committed (the signed manifest lists them) arrives and verifies, and once the
// uploads have freed the disk, buffering resumes.
import { join } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, Mosquitto, World, makeTempDir, nextStored, waitFor } from './support/index.js';
import { childPids, command, runVerify, storedSessions } from './support/evidence.js';

const logger = createLogger('test', { level: 'warn' });
const QUOTA = 1_048_576;
const VISIT = 'visit-quota';

interface EventMsg { ts: number; kind: string; severity: string; message: string; data?: { usedBytes?: number; quotaBytes?: number; pendingChunks?: number } }

describe('evidence quota while offline', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-evidence-'), (d) => d.remove());
    world = cleanup.add(await World.create({ logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true, agentConfig: { media: { quotaBytes: QUOTA } } }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
  });
  afterAll(() => cleanup.run());

  it('stops capture and raises a storage event without deleting unuploaded evidence; all of it arrives and verifies after the outage', async () => {
    const agentPid = world.agent.pid!;
    const chunkDir = join(String(world.agentConfig.dataDir), 'chunks');
    const ofVisit = () => storedSessions(world.storeDir, world.deviceId).find((s) => s.chain[0]?.meta.visitId === VISIT);
    expect((await command(world, 'record.start', { visitId: VISIT })).status).toBe('ok');
    await waitFor('the first chunk of the visit stored', () => (ofVisit()?.chain.length ?? 0) >= 1, 30_000, 100);

    await mosquitto.stop();
    const outageFrom = Date.now();
    const halted = await world.agent.waitForLine('capture stopped', 90_000);
    expect(JSON.parse(halted)).toMatchObject({ quota: QUOTA });
    expect((JSON.parse(halted) as { used: number }).used).toBeGreaterThan(QUOTA);
    // The session ends with the chunk covering the halt; then capture stops for good.
    await world.agent.waitForLine(/"recorder":"stopped"/, 30_000);
    expect(childPids(agentPid, 'ffmpeg'), 'ffmpeg still running after the quota stop').toEqual([]);
    // Nothing unuploaded was deleted to make room: the chunk files on disk still fill the quota.
    const onDisk = readdirSync(chunkDir).filter((f) => /^chunk-\d+\.ts$/.test(f)).reduce((n, f) => n + statSync(join(chunkDir, f)).size, 0);
    expect(onDisk).toBeGreaterThan(QUOTA * 0.8);

    const storage = nextStored<EventMsg>(world.ingest, 'event', (e) => e.kind === 'storage', 60_000);
    await mosquitto.restart();
    const ev = await storage;
    expect(ev).toMatchObject({ kind: 'storage', severity: 'critical', data: { quotaBytes: QUOTA } });
    expect(ev.data!.usedBytes).toBeGreaterThan(QUOTA);
    expect(ev.data!.pendingChunks).toBeGreaterThan(0);
    // The event rides the alarm lane: it reaches the ingest before the locations queued during the outage ahead of it.
    const storageRx = readStream<EventMsg & { id: string }>(world.storeDir, world.deviceId, 'event').find((l) => l.m.kind === 'storage')!.rx;
    const queuedEarlier = () => readStream<{ ts: number }>(world.storeDir, world.deviceId, 'location').filter((l) => l.m.ts > outageFrom + 1000 && l.m.ts < ev.ts);
    await waitFor('the locations queued during the outage', () => queuedEarlier().length > 0 || undefined, 30_000, 100);
    for (const l of queuedEarlier()) expect(l.rx, `location made at ${l.m.ts} received before the storage event`).toBeGreaterThanOrEqual(storageRx);

    const session = await waitFor('the visit manifest and every chunk it lists', () => {
      const s = ofVisit();
      return s?.manifest !== undefined && s.chain.length === s.manifest.chunks.length ? s : undefined;
    }, 60_000, 200);
    const metas = session.chain.map((r) => r.meta);
    expect(metas.map((m) => m.index)).toEqual(metas.map((_, i) => i));
    // No chunk was dropped from the middle: each starts where the previous ended.
    for (let i = 1; i < metas.length; i++) expect(metas[i].startTime, `chunk ${i} follows chunk ${i - 1}`).toBe(metas[i - 1].endTime);
    expect(metas.reduce((n, m) => n + m.bytes, 0)).toBeGreaterThan(QUOTA);
    expect(session.manifest).toMatchObject({ trigger: 'visit', visitId: VISIT, gaps: [] });

    const verify = await runVerify(world.storeDir);
    expect(verify.output).toContain(`${world.deviceId}/${session.sessionId}: ${metas.length} chunks, manifest — OK`);
    expect(verify.code, verify.output).toBe(0);

    // Uploaded chunks are deleted on acknowledgement; with the disk free again the pre-event buffer comes back.
    await world.agent.waitForLine('storage below quota again', 30_000);
    await waitFor('ffmpeg buffering again', () => childPids(agentPid, 'ffmpeg').length > 0 || undefined, 30_000, 100);
  }, 150_000);
});
