import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { access } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { chainLink, genesisLink, manifestDigest, verifyDigestSignature, type Manifest } from '../../protocol/media.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { requireTool } from '../../test/support/tools.js';
import { buildCapturePlan, DEFAULT_CAPTURE } from './capture-profiles.js';
import { hashFile } from './file-hash.js';
import { MediaService } from './media-service.js';
import { ModeMachine } from './mode.js';
import { Recorder, type ChunkEvent } from './recorder.js';

const ffmpeg = requireTool('ffmpeg');
const ffprobe = requireTool('ffprobe');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const exists = (p: string) => access(p).then(() => true, () => false);

describe('MediaService with the sim camera', () => {
  it('buffers, turns an SOS into a signed session holding the pre-event chunks, and closes it with a manifest', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-svc-'), (d) => d.remove());
    const settings = { ...DEFAULT_CAPTURE, profile: 'sim' as const, width: 160, height: 120, fps: 10, chunkS: 1, videoBitrateK: 200 };
    const recorder = new Recorder({ chunkDir: dir.path, plan: (n) => buildCapturePlan(ffmpeg, settings, dir.path, n), ffprobePath: ffprobe });
    let sid = 0;
    const mode = new ModeMachine<ChunkEvent>({ bufferS: 2, postEventS: 2, now: Date.now, newSessionId: () => `sos-${++sid}` });
    const key = generateKeyPairSync('ed25519');
    const fix = { lat: 52.1, lon: 4.3, time: 1, fixType: '3d' as const };
    const svc = new MediaService({ deviceId: 'dev-1', recorder, mode, privateKey: key.privateKey, position: () => fix });
    cleanup.add(svc, (s) => s.stop());
    const seen: ChunkEvent[] = [];
    recorder.on('chunk', (c) => seen.push(c));
    const records: Array<{ path: string; preEvent: boolean }> = [];
    svc.on('record', (r) => records.push({ path: r.path, preEvent: r.preEvent }));

    await svc.start();
    expect(recorder.state).toBe('running');
    while (seen.length < 3) await once(recorder, 'chunk');
    await svc.settled();
    expect(await exists(seen[0].path)).toBe(false); // fell out of the 2 s buffer

    const manifestP = once(svc, 'manifest') as Promise<[Manifest]>;
    await svc.onSos('alarm-1');
    const [m] = await manifestP;

    expect(m).toMatchObject({ deviceId: 'dev-1', sessionId: 'sos-1', trigger: 'sos', alarms: ['alarm-1'] });
    expect(verifyDigestSignature(manifestDigest(m), m.sig, key.publicKey)).toBe(true);
    const pre = records.filter((r) => r.preEvent);
    expect(pre.length).toBeGreaterThanOrEqual(1);
    expect(records.findIndex((r) => !r.preEvent)).toBe(pre.length); // pre-event chunks come first
    expect(m.chunks.length).toBe(records.length);
    expect(m.chunks.length).toBeGreaterThan(pre.length + 1); // and the post-event time was recorded
    let prev = genesisLink('dev-1', 'sos-1');
    for (const [i, c] of m.chunks.entries()) {
      expect(c.meta.index).toBe(i);
      expect(c.link).toBe(chainLink(prev, c.meta));
      expect(verifyDigestSignature(c.link, c.sig, key.publicKey)).toBe(true);
      expect((await hashFile(records[i].path)).sha256).toBe(c.meta.sha256);
      expect(c.meta.codec).toBe('mpegts/h264/aac');
      expect(c.meta.position).toEqual(fix);
      prev = c.link;
    }
    expect(m.lastLink).toBe(prev);
    expect(mode.mode).toBe('buffering');
    await svc.stop();
    expect(recorder.state).toBe('stopped');
  });
});
