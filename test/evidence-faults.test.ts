// Faults in the evidence path, done for real.
//
// 1. ffmpeg killed with SIGKILL in the middle of a chunk, during a visit. The
//    recorder salvages what ffmpeg had written (or quarantines it if it does
//    not play), restarts ffmpeg, and the session records the outage in its
//    manifest's `gaps`. Asserted on the ingest: the session's chain is
//    contiguous (indices 0..n-1, each stored once), every chunk plays, the
//    manifest has exactly one gap (reason: ffmpeg killed) lying between two
//    chunks, and verify passes.
//
// 2. The agent killed with SIGKILL in the middle of uploading a chunk (the
//    bulk connection is pinned at 600 kbit/s, so a ~200 KB chunk takes ~3 s
//    and a part of an unfinished chunk is the moment to kill), then started
//    again on the same data dir. The open session is on disk (sessions.db), so
//    the new process carries on with it: same session, same chain, the
//    downtime recorded as a gap, and the visit still ends with a signed
//    manifest. Asserted: every chunk the dead process had committed durably
//    (stored at the ingest already, or a row in its upload queue, read from
//    uploads.db after the kill) reaches the ingest exactly once, in the same
//    session as the chunks recorded after the restart; the chain has no hole;
//    the manifest has one restart gap lying between chunks; every chunk plays;
//    `nrec verify` passes. A chunk ffmpeg was writing when the agent died is
//    salvaged into the session when it plays (before the gap). Also asserted:
//    the dead agent's ffmpeg does not survive the restart (it would keep
//    writing into the chunk dir), and the restarted process gets the ingest's
//    acknowledgements, so its upload queue empties.
import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { deviceTopic } from '../protocol/index.js';
import { decodePart } from '../protocol/media.js';
import { Cleanup, Mosquitto, World, makeTempDir, waitFor } from './support/index.js';
import { childPids, command, probe, runVerify, storedSession, storedSessions, type StoredSession } from './support/evidence.js';

const logger = createLogger('test', { level: 'warn' });
const UPLOAD_KBPS = 600;

/** Rows of the agent's upload queue (read while the agent is dead, so the file is what the next boot finds). */
function queuedChunks(dbPath: string): Array<{ session_id: string; idx: number; path: string }> {
  if (!existsSync(dbPath)) return [];
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { session_id: string; idx: number; path: string }>('SELECT session_id, idx, path FROM chunks ORDER BY id').all();
  } finally {
    db.close();
  }
}

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** A session whose chain is 0..n-1, each index once, with exactly the matching chunk files, every one playable. */
async function expectWholeChain(s: StoredSession): Promise<void> {
  const idx = s.chain.map((r) => r.meta.index);
  expect(idx, `${s.sessionId} chain indices`).toEqual(idx.map((_, i) => i));
  expect(s.files).toEqual(idx.map((i) => `chunk-${String(i).padStart(6, '0')}.ts`));
  for (const f of s.files) {
    const p = await probe(join(s.dir, f));
    expect(p.ok, `${s.sessionId}/${f}: ${p.error}`).toBe(true);
  }
}

describe('evidence under faults', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;
  let chunkDir: string;
  let visit1: StoredSession;

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-evidence-'), (d) => d.remove());
    world = cleanup.add(await World.create({
      logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true,
      agentConfig: { transport: { bulkAdaptive: false, bulkMinKbps: UPLOAD_KBPS, bulkMaxKbps: UPLOAD_KBPS } },
    }), (w) => w.close());
    chunkDir = join(String(world.agentConfig.dataDir), 'chunks');
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
  });
  afterAll(() => cleanup.run());

  const ofVisit = (v: string) => storedSessions(world.storeDir, world.deviceId).find((s) => s.chain[0]?.meta.visitId === v);

  it('kill -9 of ffmpeg mid-chunk: the restart is a gap in the manifest, no chunk lost or stored twice, verify passes', async () => {
    const agentPid = world.agent.pid!;
    expect((await command(world, 'record.start', { visitId: 'visit-ffmpeg' })).status).toBe('ok');
    await waitFor('the first chunk of the visit stored', () => (ofVisit('visit-ffmpeg')?.chain.length ?? 0) >= 1, 30_000, 100);
    // Mid-chunk: the newest chunk file (the one ffmpeg writes) already holds a good part of a chunk.
    await waitFor('ffmpeg well into a chunk', () => {
      const files = readdirSync(chunkDir).filter((f) => /^chunk-\d+\.ts$/.test(f)).sort();
      return files.length > 0 && statSync(join(chunkDir, files.at(-1)!)).size > 40_000;
    }, 20_000, 50);
    const [ffmpegPid, ...more] = childPids(agentPid, 'ffmpeg');
    expect(more, 'one ffmpeg').toEqual([]);
    process.kill(ffmpegPid, 'SIGKILL');
    const killedAt = Date.now();

    await world.agent.waitForLine(/"recorder":"restarting".*SIGKILL/);
    await waitFor('a new ffmpeg', () => childPids(agentPid, 'ffmpeg').some((p) => p !== ffmpegPid) || undefined, 20_000, 50);
    // Two chunks of the new ffmpeg run stored: each starts after the kill.
    await waitFor('two chunks recorded after the restart', () => (ofVisit('visit-ffmpeg')?.chain.filter((r) => r.meta.startTime > killedAt).length ?? 0) >= 2, 40_000, 200);
    expect((await command(world, 'record.stop')).status).toBe('ok');
    visit1 = await waitFor('the visit manifest and every chunk it lists', () => {
      const s = ofVisit('visit-ffmpeg');
      return s?.manifest !== undefined && s.chain.length === s.manifest.chunks.length ? s : undefined;
    }, 60_000, 200);

    await expectWholeChain(visit1);
    const m = visit1.manifest!;
    expect(m.chunks.map((c) => c.link)).toEqual(visit1.chain.map((r) => r.link));
    expect(m.gaps, 'one gap: the ffmpeg restart').toHaveLength(1);
    const gap = m.gaps[0];
    expect(gap.reason).toMatch(/ffmpeg exited with signal SIGKILL/);
    expect(gap.to).toBeGreaterThan(gap.from);
    // The gap lies between chunks: what ffmpeg wrote before it (salvaged, if it played) ends at or before its start, the new run's chunks start at or after its end.
    const metas = visit1.chain.map((r) => r.meta);
    const beforeGap = metas.filter((c) => c.endTime <= gap.from);
    const afterGap = metas.filter((c) => c.startTime >= gap.to);
    expect(beforeGap.length + afterGap.length, JSON.stringify({ gap, chunks: metas.map((c) => [c.index, c.startTime, c.endTime, c.salvaged]) })).toBe(metas.length);
    expect(beforeGap.length).toBeGreaterThanOrEqual(1);
    expect(afterGap.length).toBeGreaterThanOrEqual(2);
    expect(metas.filter((c) => c.salvaged === true).every((c) => c.endTime <= gap.from)).toBe(true);

    const verify = await runVerify(world.storeDir);
    expect(verify.output).toContain(`${world.deviceId}/${visit1.sessionId}: ${visit1.chain.length} chunks, manifest — OK`);
    expect(verify.code, verify.output).toBe(0);
  }, 120_000);

  it('kill -9 of the agent mid-upload: the visit carries on in the same session after the restart, every committed chunk arrives once, the manifest has the restart gap, verify passes', async () => {
    expect(visit1, 'the ffmpeg test ran first').toBeDefined();
    const dbPath = join(String(world.agentConfig.dataDir), 'uploads.db');
    // Watch parts on the broker, as a second subscriber: the kill comes with a middle part of a chunk the ingest has not stored yet (not the first chunk, so the chain already holds one).
    const watcher = cleanup.add(await mqtt.connectAsync(mosquitto.url, { clientId: 'nrec-part-watcher' }), (c) => c.endAsync());
    await watcher.subscribeAsync(deviceTopic(world.deviceId, 'media', 'part'), { qos: 0 });
    const midUpload = new Promise<{ sessionId: string; chunkIndex: number }>((resolve) => {
      watcher.on('message', (_t, payload) => {
        const d = decodePart(payload);
        if (!d.ok || d.header.sessionId === visit1.sessionId) return;
        const h = d.header;
        const stored = storedSession(world.storeDir, world.deviceId, h.sessionId).chain.some((r) => r.meta.index === h.chunkIndex);
        if (!stored && h.chunkIndex >= 1 && h.part >= 1 && h.part <= h.parts - 3) resolve({ sessionId: h.sessionId, chunkIndex: h.chunkIndex });
      });
    });
    const agentPid = world.agent.pid!;
    expect((await command(world, 'record.start', { visitId: 'visit-crash' })).status).toBe('ok');
    const caught = await midUpload;
    const [ffmpegPid] = childPids(agentPid, 'ffmpeg');
    expect(ffmpegPid, 'ffmpeg ran while the visit recorded').toBeDefined();
    cleanup.add(ffmpegPid, (pid) => { if (alive(pid)) process.kill(pid, 'SIGKILL'); });
    await world.agent.kill9();

    const storedAtKill = storedSession(world.storeDir, world.deviceId, caught.sessionId).chain.map((r) => r.meta.index);
    expect(storedAtKill, 'the chunk being uploaded was not stored yet').not.toContain(caught.chunkIndex);
    const queued = queuedChunks(dbPath);
    const queuedHere = queued.filter((q) => q.session_id === caught.sessionId).map((q) => q.idx);
    expect(queuedHere, 'the chunk being uploaded is durably queued').toContain(caught.chunkIndex);
    const committed = [...new Set([...storedAtKill, ...queuedHere])].sort((x, y) => x - y);

    world.agent.spawn();
    await world.agent.waitForLine(new RegExp(`"pid":${world.agent.pid},.*"msg":"agent ready"`));
    // ffmpeg outlives a killed agent (it ignores stdin EOF and the lost segment-list pipe); the new agent kills it
    // before it salvages or captures, or both would write the same chunk numbers.
    expect(alive(ffmpegPid), `the dead agent's ffmpeg ${ffmpegPid} still runs`).toBe(false);
    await world.agent.waitForLine(new RegExp(`"sessionId":"${caught.sessionId}".*"msg":"evidence session resumed after restart"`));
    const restartedAt = Date.now();
    await waitFor('two chunks of the resumed visit recorded after the restart', () =>
      storedSession(world.storeDir, world.deviceId, caught.sessionId).chain.filter((r) => r.meta.startTime > restartedAt).length >= 2 || undefined, 60_000, 200);
    expect((await command(world, 'record.stop')).status).toBe('ok');
    const session = await waitFor('the resumed visit\'s manifest and every chunk it lists', () => {
      const s = storedSession(world.storeDir, world.deviceId, caught.sessionId);
      return s.manifest !== undefined && s.chain.length === s.manifest.chunks.length ? s : undefined;
    }, 60_000, 200);

    const indices = session.chain.map((r) => r.meta.index);
    for (const i of committed) expect(indices, `committed chunk ${i} stored once`).toContain(i);
    await expectWholeChain(session);
    expect(session.chain.every((r) => r.meta.visitId === 'visit-crash')).toBe(true);
    const m = session.manifest!;
    expect(m.visitId).toBe('visit-crash');
    expect(m.chunks.map((c) => c.link)).toEqual(session.chain.map((r) => r.link));
    const restartGaps = m.gaps.filter((g) => /agent restarted/.test(g.reason));
    expect(restartGaps, JSON.stringify(m.gaps)).toHaveLength(1);
    const gap = restartGaps[0];
    expect(gap.to).toBeGreaterThan(gap.from);
    const metas = session.chain.map((r) => r.meta);
    const beforeGap = metas.filter((c) => c.endTime <= gap.from);
    const afterGap = metas.filter((c) => c.startTime >= gap.to);
    expect(beforeGap.length + afterGap.length, JSON.stringify({ gap, chunks: metas.map((c) => [c.index, c.startTime, c.endTime, c.salvaged]) })).toBe(metas.length);
    expect(beforeGap.length).toBeGreaterThanOrEqual(committed.length);
    expect(afterGap.length).toBeGreaterThanOrEqual(2);

    // The ingest's acknowledgements reach the new process: its upload queue empties and the uploaded files are deleted.
    await waitFor('the upload queue of the restarted agent empty', () => queuedChunks(dbPath).length === 0 || undefined, 30_000, 200);
    await waitFor('the acknowledged chunk files deleted', () => queued.every((q) => !existsSync(q.path)) || undefined, 10_000, 100);

    const verify = await runVerify(world.storeDir);
    expect(verify.output).toContain(`${world.deviceId}/${visit1.sessionId}: ${visit1.chain.length} chunks, manifest — OK`);
    expect(verify.output).toContain(`${world.deviceId}/${session.sessionId}: ${session.chain.length} chunks, manifest — OK`);
    expect(verify.code, verify.output).toBe(0);
  }, 120_000);
});
