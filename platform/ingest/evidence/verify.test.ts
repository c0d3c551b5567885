import { copyFile, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeSimDevice, makeTestClip, SimEvidenceSession } from '../../../simulator/camera/index.js';
import { Cleanup } from '../../../test/support/cleanup.js';
import { makeTempDir, type TempDir } from '../../../test/support/temp.js';
import { requireTool } from '../../../test/support/tools.js';
import { EvidenceStore } from './evidence-store.js';
import { EvidenceIntake } from './intake.js';
import { keyRingFromMap } from './keys.js';
import { main } from './verify-command.js';
import { verifyStore, type Problem } from './verify.js';

const ffmpeg = requireTool('ffmpeg');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const device = makeSimDevice('dev-1');
const keys = keyRingFromMap(new Map([['dev-1', device.publicKey]]), 'test keys');
let clips: Buffer[];

beforeAll(async () => {
  const dir = await makeTempDir('nrec-clips-');
  clips = [];
  for (let i = 0; i < 4; i++) {
    await makeTestClip(ffmpeg, dir.file(`c${i}.ts`), 1, 500 + 100 * i);
    clips.push(await readFile(dir.file(`c${i}.ts`)));
  }
  await dir.remove();
  expect(new Set(clips.map((c) => c.toString('base64'))).size).toBe(4); // the tamper cases need distinct chunks
});

/** A store with two closed sessions of three real TS chunks each, delivered as parts through the intake. */
async function goodStore(): Promise<{ dir: TempDir; path: (s: string) => string }> {
  const dir = cleanup.add(await makeTempDir('nrec-store-'), (d) => d.remove());
  const intake = new EvidenceIntake({ store: new EvidenceStore(dir.path), keys, maxAssemblyBytes: 4 << 20 });
  for (const [sessionId, picks] of [['sess-a', [0, 1, 2]], ['sess-b', [3, 2, 1]]] as const) {
    const s = new SimEvidenceSession(device, sessionId);
    for (const i of picks) s.add(clips[i]);
    for (const c of s.chunks) {
      await intake.onHeader(c.header(16 * 1024), 'dev-1');
      for (const p of c.parts(16 * 1024)) await intake.onPart(p, 'dev-1');
    }
    expect(await intake.onManifest(s.manifest(), `m-${sessionId}`, 'dev-1')).toMatchObject({ kind: 'manifest' });
  }
  return { dir, path: (s) => dir.file(s) };
}

async function problems(root: string): Promise<Problem[]> {
  return (await verifyStore(root, keys)).problems;
}

async function chainLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).trimEnd().split('\n');
}

describe('verify', () => {
  it('passes a good store', async () => {
    const { dir } = await goodStore();
    const r = await verifyStore(dir.path, keys);
    expect(r.problems).toEqual([]);
    expect(r.sessions.map((s) => [s.sessionId, s.chunks, s.manifest])).toEqual([['sess-a', 3, true], ['sess-b', 3, true]]);
  });

  it('names a flipped byte in a stored chunk', async () => {
    const { dir, path } = await goodStore();
    const f = path('dev-1/sess-a/chunk-000001.ts');
    const b = await readFile(f);
    b[1000] ^= 0x01;
    await writeFile(f, b);
    expect(await problems(dir.path)).toEqual([
      { deviceId: 'dev-1', sessionId: 'sess-a', index: 1, problem: expect.stringMatching(/sha256 of chunk-000001\.ts .* differs from the signed meta/) },
    ]);
  });

  it('names a deleted chunk, whether only its file or also its chain line went', async () => {
    const { dir, path } = await goodStore();
    await unlink(path('dev-1/sess-a/chunk-000001.ts'));
    expect(await problems(dir.path)).toEqual([{ deviceId: 'dev-1', sessionId: 'sess-a', index: 1, problem: 'chunk-000001.ts is missing' }]);

    const chain = path('dev-1/sess-a/chain.ndjson');
    const lines = await chainLines(chain);
    await writeFile(chain, `${[lines[0], lines[2]].join('\n')}\n`);
    const p = await problems(dir.path);
    expect(p).toEqual(expect.arrayContaining([
      expect.objectContaining({ index: 2, problem: expect.stringMatching(/chain line 2 holds chunk 2, expected 1/) }),
      expect.objectContaining({ index: 2, problem: expect.stringMatching(/prevLink does not continue the chain from chunk 0/) }),
      expect.objectContaining({ index: 1, problem: 'manifest lists chunk 1 but it is not stored' }),
    ]));
    expect(p.every((x) => x.sessionId === 'sess-a')).toBe(true);
  });

  it('names two reordered chunks (files swapped, or chain lines swapped)', async () => {
    const { dir, path } = await goodStore();
    const [a, b] = [path('dev-1/sess-a/chunk-000000.ts'), path('dev-1/sess-a/chunk-000001.ts')];
    await rename(a, `${a}.x`);
    await rename(b, a);
    await rename(`${a}.x`, b);
    const p = await problems(dir.path);
    expect(p.filter((x) => /sha256/.test(x.problem)).map((x) => [x.sessionId, x.index])).toEqual([['sess-a', 0], ['sess-a', 1]]);
    expect(p.every((x) => x.sessionId === 'sess-a' && (x.index === 0 || x.index === 1))).toBe(true); // sizes may differ too

    const { dir: dir2, path: path2 } = await goodStore();
    const chain = path2('dev-1/sess-b/chain.ndjson');
    const lines = await chainLines(chain);
    await writeFile(chain, `${[lines[1], lines[0], lines[2]].join('\n')}\n`);
    const q = await problems(dir2.path);
    expect(q).toEqual(expect.arrayContaining([
      expect.objectContaining({ sessionId: 'sess-b', index: 1, problem: expect.stringMatching(/chain line 1 holds chunk 1, expected 0/) }),
      expect.objectContaining({ sessionId: 'sess-b', index: 0, problem: expect.stringMatching(/chain line 2 holds chunk 0, expected 1/) }),
    ]));
  });

  it('names a chunk swapped in from another session', async () => {
    const { dir, path } = await goodStore();
    // sess-b's chunk 1 is clip 2; put it where sess-a keeps chunk 1 (clip 1), file and chain line both.
    await copyFile(path('dev-1/sess-b/chunk-000001.ts'), path('dev-1/sess-a/chunk-000001.ts'));
    const first = await problems(dir.path);
    expect(first).toEqual(expect.arrayContaining([expect.objectContaining({ sessionId: 'sess-a', index: 1, problem: expect.stringMatching(/sha256 of chunk-000001\.ts/) })]));
    expect(first.every((x) => x.sessionId === 'sess-a' && x.index === 1)).toBe(true);
    const a = await chainLines(path('dev-1/sess-a/chain.ndjson'));
    const b = await chainLines(path('dev-1/sess-b/chain.ndjson'));
    await writeFile(path('dev-1/sess-a/chain.ndjson'), `${[a[0], b[1], a[2]].join('\n')}\n`);
    const p = await problems(dir.path);
    expect(p).toEqual(expect.arrayContaining([
      expect.objectContaining({ sessionId: 'sess-a', index: 1, problem: expect.stringMatching(/chunk of dev-1\/sess-b \(moved in from another session\)/) }),
      expect.objectContaining({ sessionId: 'sess-a', index: 1, problem: expect.stringMatching(/prevLink does not continue/) }),
      expect.objectContaining({ sessionId: 'sess-a', index: 1, problem: expect.stringMatching(/stored chunk differs from the one the manifest lists/) }),
    ]));
  });

  it('names a signature forged with another key, on a chunk and on the manifest', async () => {
    const { dir, path } = await goodStore();
    const forger = makeSimDevice('dev-1');
    const s = new SimEvidenceSession(forger, 'sess-a');
    for (const i of [0, 1, 2]) s.add(clips[i]);
    const lines = await chainLines(path('dev-1/sess-a/chain.ndjson'));
    lines[2] = JSON.stringify(s.chunks[2].record);
    await writeFile(path('dev-1/sess-a/chain.ndjson'), `${lines.join('\n')}\n`);
    await writeFile(path('dev-1/sess-b/manifest.json'), JSON.stringify({ ...JSON.parse(await readFile(path('dev-1/sess-b/manifest.json'), 'utf8')), sig: s.manifest().sig }));
    const p = await problems(dir.path);
    expect(p).toEqual(expect.arrayContaining([
      { deviceId: 'dev-1', sessionId: 'sess-a', index: 2, problem: expect.stringMatching(/signature does not verify/) },
      { deviceId: 'dev-1', sessionId: 'sess-b', problem: 'manifest signature does not verify with the device key' },
    ]));
  });

  it('the command exits 0 on a good store and 1 naming the chunk on a bad one; keys come from --keys', async () => {
    const { dir, path } = await goodStore();
    const keysDir = dir.file('registered');
    await mkdir(keysDir);
    await writeFile(`${keysDir}/dev-1.pem`, device.publicKeyPem);
    const run = async (argv: string[]) => {
      const out = new PassThrough();
      const err = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => { text += d.toString(); });
      err.on('data', (d: Buffer) => { text += d.toString(); });
      const code = await main(argv, out, err);
      return { code, text };
    };
    const ok = await run([dir.path, '--keys', keysDir]);
    expect(ok.code).toBe(0);
    expect(ok.text).toMatch(/dev-1\/sess-a: 3 chunks, manifest — OK/);
    expect(ok.text).toMatch(/verified 2 session\(s\): no problems/);
    await rm(path('dev-1/sess-b/manifest.json'));
    const bad = await run([dir.path, '--keys', keysDir]);
    expect(bad.code).toBe(1);
    expect(bad.text).toMatch(/PROBLEM dev-1\/sess-b: no manifest/);
    await expect(run([])).rejects.toThrow(/STORE is required/);
    expect((await run([dir.path, '--keys', dir.file('nope')])).code).toBe(2);
  });
});
