import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, chainLink, genesisLink, manifestDigest, verifyDigestSignature } from '../../protocol/media.js';
import { makeTestClip } from '../../simulator/camera/index.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir, type TempDir } from '../../test/support/temp.js';
import { requireTool } from '../../test/support/tools.js';
import { EvidenceSession } from './evidence.js';
import { hashFile } from './file-hash.js';

const ffmpeg = requireTool('ffmpeg');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const key = generateKeyPairSync('ed25519');
let clips: string[];
let dir: TempDir;

beforeAll(async () => {
  dir = await makeTempDir('nrec-evd-');
  clips = [dir.file('chunk-000000.ts'), dir.file('chunk-000001.ts'), dir.file('chunk-000002.ts')];
  for (const [i, c] of clips.entries()) await makeTestClip(ffmpeg, c, 1, 500 + 100 * i);
  return () => dir.remove();
});

function session(over: Partial<ConstructorParameters<typeof EvidenceSession>[0]> = {}) {
  return new EvidenceSession({
    deviceId: 'dev-1', sessionId: 'sess-1', visitId: 'visit-9', trigger: 'visit', startedAt: 1000,
    codec: 'mpegts/h264/aac', privateKey: key.privateKey, ...over,
  });
}

describe('EvidenceSession over real chunks', () => {
  it('hashes each file, chains the links from the genesis and signs each link', async () => {
    const s = session();
    const records = await Promise.all(clips.map((path, i) => s.addChunk({ path, startTime: 1000 + i * 1000, endTime: 2000 + i * 1000, durationS: 1 })));
    let prev = genesisLink('dev-1', 'sess-1');
    for (const [i, r] of records.entries()) {
      const h = await hashFile(clips[i]);
      expect(r.meta).toMatchObject({ index: i, sha256: h.sha256, bytes: h.bytes, visitId: 'visit-9', sessionId: 'sess-1', deviceId: 'dev-1' });
      expect(r.prevLink).toBe(prev);
      expect(r.link).toBe(chainLink(prev, r.meta));
      expect(verifyDigestSignature(r.link, r.sig, key.publicKey)).toBe(true);
      prev = r.link;
    }
  });

  it('closes with a signed manifest listing every chunk, gap and alarm', async () => {
    const s = session({ trigger: 'sos', visitId: undefined });
    s.addAlarm('alarm-1');
    s.addAlarm('alarm-1');
    await s.addChunk({ path: clips[0], startTime: 1000, endTime: 2000, durationS: 1, salvaged: true });
    s.addGap({ from: 2000, to: 2600, reason: 'ffmpeg exited with signal SIGKILL' });
    await s.addChunk({ path: clips[1], startTime: 2600, endTime: 3600, durationS: 1 });
    const m = await s.finish(4000);
    expect(m.chunks.map((c) => c.meta.index)).toEqual([0, 1]);
    expect(m.chunks[0].meta.salvaged).toBe(true);
    expect(m.alarms).toEqual(['alarm-1']);
    expect(m.gaps).toHaveLength(1);
    expect(m.lastLink).toBe(s.records[1].link);
    expect(verifyDigestSignature(manifestDigest(m), m.sig, key.publicKey)).toBe(true);
    expect(verifyDigestSignature(manifestDigest({ ...m, endedAt: 4001 }), m.sig, key.publicKey)).toBe(false);
    await expect(s.addChunk({ path: clips[2], startTime: 0, endTime: 1, durationS: 1 })).rejects.toThrow(/finished/);
  });

  it('resumes a session from its records and refuses a broken chain', async () => {
    const s = session();
    await s.addChunk({ path: clips[0], startTime: 0, endTime: 1000, durationS: 1 });
    await s.addChunk({ path: clips[1], startTime: 1000, endTime: 2000, durationS: 1 });
    const resumed = EvidenceSession.resume({ deviceId: 'dev-1', sessionId: 'sess-1', trigger: 'visit', startedAt: 1000, codec: 'x', privateKey: key.privateKey }, [...s.records]);
    expect(resumed.lastLink).toBe(s.lastLink);
    const r2 = await resumed.addChunk({ path: clips[2], startTime: 2000, endTime: 3000, durationS: 1 });
    expect(r2.meta.index).toBe(2);
    expect(r2.prevLink).toBe(s.lastLink);
    expect(() => EvidenceSession.resume({ deviceId: 'dev-1', sessionId: 'sess-1', trigger: 'visit', startedAt: 1000, codec: 'x', privateKey: key.privateKey }, [s.records[1]])).toThrow(/record 0 does not continue/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined members and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 'x', y: null }], c: undefined }, e: 'é' })).toBe('{"a":{"d":[1,{"y":null,"z":"x"}]},"b":1,"e":"é"}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/not a finite number/);
  });

  it('property: same value whatever the key order, and it parses back to the value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const reordered = JSON.parse(JSON.stringify(v, (_k, x: unknown) =>
          x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).reverse()) : x));
        expect(canonicalJson(reordered)).toBe(canonicalJson(v));
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});
