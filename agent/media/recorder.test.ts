import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kill9, makeTestClip, missingCameraDevice, writeGarbageChunk } from '../../simulator/camera/index.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { requireTool } from '../../test/support/tools.js';
import { buildCapturePlan, DEFAULT_CAPTURE, type CaptureSettings } from './capture-profiles.js';
import { probeMedia } from './probe.js';
import { Recorder, type ChunkEvent, type RecorderStatus } from './recorder.js';

const ffmpeg = requireTool('ffmpeg');
const ffprobe = requireTool('ffprobe');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const sim: CaptureSettings = { ...DEFAULT_CAPTURE, profile: 'sim', width: 320, height: 240, fps: 10, chunkS: 2, videoBitrateK: 300 };

async function makeRecorder(settings: CaptureSettings = sim) {
  const dir = cleanup.add(await makeTempDir('nrec-rec-'), (d) => d.remove());
  const rec = new Recorder({
    chunkDir: dir.path,
    plan: (n) => buildCapturePlan(ffmpeg, settings, dir.path, n),
    ffprobePath: ffprobe,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  cleanup.add(rec, (r) => r.stop());
  const chunks: ChunkEvent[] = [];
  rec.on('chunk', (c) => chunks.push(c));
  return { rec, dir, chunks };
}

/** Resolves when `chunks` holds at least n entries (checked on each chunk event). */
async function waitForChunks(rec: Recorder, chunks: ChunkEvent[], n: number): Promise<void> {
  while (chunks.length < n) await once(rec, 'chunk');
}

describe('Recorder with the sim profile', () => {
  it('never dates a chunk end after the moment it was listed, the last one of a stopped run included (a restart gap needs it)', async () => {
    // ffmpeg admits a frame once its time has come and a chunk ends where its last frame ends, so the
    // chunk that `q` closes used to end up to a frame in the future; a quick restart then started
    // before it ended and the restart gap was lost (media-service.test.ts, "carries on with the open visit").
    // At 2 frames per second a frame lasts 500 ms, far more than ffmpeg's start-up takes, so the old lead shows every time.
    const { rec, chunks } = await makeRecorder({ ...sim, chunkS: 1, fps: 2 });
    const listedAt: number[] = [];
    rec.on('chunk', () => listedAt.push(Date.now()));
    await rec.start();
    await waitForChunks(rec, chunks, 2);
    await rec.stop();
    for (const [i, c] of chunks.entries()) {
      expect(c.endTime, `chunk ${i} ends after it was listed`).toBeLessThanOrEqual(listedAt[i]);
      expect(c.endTime).toBeGreaterThanOrEqual(c.startTime);
      if (i > 0) expect(c.startTime).toBe(chunks[i - 1].endTime);
    }
  });

  it('records 2 s chunks learned from the segment list, each playable, and stop() yields the last one', async () => {
    const { rec, chunks } = await makeRecorder();
    await rec.start();
    expect(rec.state).toBe('running');
    await waitForChunks(rec, chunks, 3);
    const beforeStop = chunks.length;
    await rec.stop();
    expect(rec.state).toBe('stopped');
    expect(chunks.length).toBe(beforeStop + 1); // the chunk open at stop() was closed and listed

    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    let probed = 0;
    for (const [i, c] of chunks.entries()) {
      const p = await probeMedia(ffprobe, c.path);
      expect(p.ok, `chunk ${c.file}: ${p.ok ? '' : p.reason}`).toBe(true);
      if (p.ok) probed += p.durationS;
      expect(c.bytes).toBe((await stat(c.path)).size);
      expect(c.codec).toBe('mpegts/h264/aac');
      if (i > 0) expect(c.startTime).toBe(chunks[i - 1].endTime); // contiguous on the run's clock
      if (i < chunks.length - 1) expect(c.durationS).toBeGreaterThan(1.5);
    }
    const listed = chunks.reduce((s, c) => s + c.durationS, 0);
    expect(Math.abs(listed - (chunks.at(-1)!.endTime - chunks[0].startTime) / 1000)).toBeLessThanOrEqual(1);
    expect(Math.abs(listed - probed)).toBeLessThanOrEqual(1);
  });

  it('survives kill -9 mid-chunk: salvages the open chunk, reports the gap, restarts and keeps chunking', async () => {
    const { rec, dir, chunks } = await makeRecorder();
    const statuses: RecorderStatus[] = [];
    rec.on('status', (s) => statuses.push(s));
    await rec.start();
    await waitForChunks(rec, chunks, 1);
    // Wait until ffmpeg has written into the next chunk, so the kill lands mid-chunk.
    // Packets are flushed as they come, so a file of some size is a chunk under way.
    const openIndex = chunks.at(-1)!.index + 1;
    const open = join(dir.path, `chunk-${String(openIndex).padStart(6, '0')}.ts`);
    while (((await stat(open).catch(() => undefined))?.size ?? 0) < 10_000) await new Promise((r) => setTimeout(r, 25));
    const gap = once(rec, 'gap');
    const salvaged = once(rec, 'salvage');
    expect(kill9(rec.pid!)).toBe(true);

    const [s] = await salvaged;
    expect(s).toMatchObject({ outcome: 'salvaged', path: open });
    const [g] = await gap;
    expect(g.reason).toMatch(/SIGKILL/);
    expect(g.to).toBeGreaterThanOrEqual(g.from);
    expect(statuses.some((x) => x.state === 'restarting')).toBe(true);

    const salvagedChunk = chunks.find((c) => c.salvaged === true);
    expect(salvagedChunk?.index).toBe(openIndex);
    expect(salvagedChunk?.startTime).toBe(chunks[openIndex - 1].endTime);
    const before = chunks.length;
    await waitForChunks(rec, chunks, before + 1);
    const after = chunks.slice(before);
    expect(after[0].index).toBeGreaterThan(openIndex); // the restart did not reuse (and overwrite) a name
    expect(after[0].startTime).toBeGreaterThanOrEqual(g.to);
    expect((await probeMedia(ffprobe, after[0].path)).ok).toBe(true);
    await rec.stop();
  });

  it('reports a missing camera as a fault instead of throwing', async () => {
    const { rec } = await makeRecorder({ ...sim, profile: 'usb', videoDevice: missingCameraDevice() });
    const fault = new Promise<RecorderStatus>((resolve) => rec.on('status', (x) => { if (x.state === 'fault') resolve(x); }));
    await rec.start();
    const s = await fault;
    expect(s.state).toBe('fault');
    expect(s.reason).toMatch(/camera \/dev\/video-nrec-missing-\w+ not present/);
    await rec.stop();
    expect(rec.state).toBe('stopped');
  });

  it('reports a camera pipeline whose source cannot start (csi without rpicam-vid) as a fault', async () => {
    const { rec } = await makeRecorder({ ...sim, profile: 'csi', withAudio: false, rpicamPath: '/nonexistent/rpicam-vid' });
    const fault = new Promise<RecorderStatus>((resolve) => rec.on('status', (x) => { if (x.state === 'fault') resolve(x); }));
    await rec.start();
    expect((await fault).reason).toMatch(/rpicam-vid.*ENOENT/);
    await rec.stop();
  });
});

describe('salvage at start-up', () => {
  it('emits a playable unlisted chunk as salvaged and quarantines garbage; start() continues after both', async () => {
    const { rec, dir, chunks } = await makeRecorder();
    await makeTestClip(ffmpeg, dir.file('chunk-000007.ts'));
    await writeGarbageChunk(dir.file('chunk-000008.ts'));
    await makeTestClip(ffmpeg, dir.file('chunk-000003.ts')); // already known to the caller: left alone
    const results = await rec.salvage(['chunk-000003.ts']);
    expect(results.map((r) => [r.file, r.outcome])).toEqual([
      ['chunk-000007.ts', 'salvaged'],
      ['chunk-000008.ts', 'quarantined'],
    ]);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ index: 7, salvaged: true });
    expect(await readdir(dir.file('quarantine'))).toEqual(['chunk-000008.ts']);
    expect((await readdir(dir.path)).sort()).toEqual(['chunk-000003.ts', 'chunk-000007.ts', 'quarantine']);

    await rec.start();
    await waitForChunks(rec, chunks, 2);
    expect(chunks[1].index).toBe(9);
    await rec.stop();
  });
});
