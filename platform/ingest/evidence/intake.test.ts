import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeSimDevice, SimEvidenceSession } from '../../../simulator/camera/index.js';
import { Cleanup } from '../../../test/support/cleanup.js';
import { makeTempDir } from '../../../test/support/temp.js';
import { EvidenceStore } from './evidence-store.js';
import { EvidenceIntake, type IntakeResult } from './intake.js';
import { keyRingFromMap } from './keys.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const device = makeSimDevice('dev-1');
const PART = 2048;

async function setup() {
  const dir = cleanup.add(await makeTempDir('nrec-intake-'), (d) => d.remove());
  const store = new EvidenceStore(dir.path);
  const intake = new EvidenceIntake({ store, keys: keyRingFromMap(new Map([['dev-1', device.publicKey]])), maxAssemblyBytes: 1 << 20 });
  const session = new SimEvidenceSession(device, 'sess-1');
  for (let i = 0; i < 3; i++) session.add(randomBytes(5000 + i));
  return { dir, store, intake, session };
}

async function deliver(intake: EvidenceIntake, c: SimEvidenceSession['chunks'][number]): Promise<IntakeResult[]> {
  const out: IntakeResult[] = [...(await intake.onHeader(c.header(PART), 'dev-1'))];
  for (const p of c.parts(PART)) out.push(...(await intake.onPart(p, 'dev-1')));
  return out.filter((r) => r.kind !== 'partial');
}

describe('EvidenceIntake', () => {
  it('stores verified chunks in chain order and acknowledges each header id', async () => {
    const { dir, store, intake, session } = await setup();
    for (const c of session.chunks) expect(await deliver(intake, c)).toEqual([expect.objectContaining({ kind: 'stored', ack: c.header(PART).id })]);
    const chain = await store.chain('dev-1', 'sess-1');
    expect(chain.map((r) => r.link)).toEqual(session.chunks.map((c) => c.record.link));
    const files = await readdir(dir.file('dev-1/sess-1'));
    expect(files.sort()).toEqual(['chain.ndjson', 'chunk-000000.ts', 'chunk-000001.ts', 'chunk-000002.ts']);
    expect((await readFile(dir.file('dev-1/sess-1/chunk-000001.ts'))).equals(session.chunks[1].bytes)).toBe(true);
    // A fresh store reads the chain back from disk.
    expect((await new EvidenceStore(dir.path).tip('dev-1', 'sess-1'))?.index).toBe(2);
  });

  it('holds a chunk that arrives before its predecessor and stores both once the gap fills', async () => {
    const { store, intake, session } = await setup();
    await deliver(intake, session.chunks[0]);
    expect(await deliver(intake, session.chunks[2])).toEqual([expect.objectContaining({ kind: 'held', reason: expect.stringMatching(/waiting for chunk 1/) })]);
    const r = await deliver(intake, session.chunks[1]);
    expect(r.map((x) => [x.kind, x.key])).toEqual([['stored', 'dev-1/sess-1/1'], ['stored', 'dev-1/sess-1/2']]);
    expect((await store.chain('dev-1', 'sess-1')).length).toBe(3);
    expect(intake.bufferedBytes).toBe(0);
  });

  it('acknowledges a redelivered chunk as a duplicate without storing it twice', async () => {
    const { store, intake, session } = await setup();
    await deliver(intake, session.chunks[0]);
    expect(await deliver(intake, session.chunks[0])).toEqual([expect.objectContaining({ kind: 'duplicate', ack: session.chunks[0].header(PART).id })]);
    expect((await store.chain('dev-1', 'sess-1')).length).toBe(1);
  });

  it('rejects corrupt bytes, a forged signature, a fork and an unknown device, storing none of them', async () => {
    const { dir, store, intake, session } = await setup();
    await deliver(intake, session.chunks[0]);

    const c1 = session.chunks[1];
    const parts = c1.parts(PART);
    const corrupt = Buffer.from(parts[1]);
    corrupt[corrupt.length - 5] ^= 0x40;
    const results = [...(await intake.onHeader(c1.header(PART))), ...(await intake.onPart(parts[0])), ...(await intake.onPart(corrupt)), ...(await intake.onPart(parts[2]))];
    expect(results.at(-1)).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/sha256 of the bytes .* differs from meta/) });

    const forger = makeSimDevice('dev-1');
    const forged = new SimEvidenceSession(device, 'sess-1');
    forged.add(session.chunks[0].bytes);
    const f1 = forged.add(c1.bytes, forger.privateKey);
    expect(await deliver(intake, f1)).toEqual([expect.objectContaining({ kind: 'rejected', reason: expect.stringMatching(/signature does not verify/) })]);

    const fork = new SimEvidenceSession(device, 'sess-1');
    fork.add(randomBytes(100)); // a different chunk 0, correctly signed
    expect(await deliver(intake, fork.chunks[0])).toEqual([expect.objectContaining({ kind: 'rejected', reason: expect.stringMatching(/fork/) })]);

    const stranger = new SimEvidenceSession(makeSimDevice('dev-9'), 'sess-1');
    const s0 = stranger.add(randomBytes(10));
    expect(await intake.onHeader(s0.header(PART), 'dev-1')).toEqual([expect.objectContaining({ kind: 'rejected', reason: expect.stringMatching(/arrived from device dev-1/) })]);

    expect((await store.chain('dev-1', 'sess-1')).length).toBe(1);
    expect((await readdir(dir.file('dev-1/sess-1'))).sort()).toEqual(['chain.ndjson', 'chunk-000000.ts']);
    expect(await intake.onHeader({ not: 'a header' })).toEqual([expect.objectContaining({ kind: 'rejected' })]);
  });

  it('stores a manifest whose signature verifies and refuses one signed by another key', async () => {
    const { dir, intake, session } = await setup();
    for (const c of session.chunks) await deliver(intake, c);
    expect(await intake.onManifest(session.manifest(), 'm-1', 'dev-1')).toMatchObject({ kind: 'manifest', ack: 'm-1' });
    expect(JSON.parse(await readFile(dir.file('dev-1/sess-1/manifest.json'), 'utf8')).lastLink).toBe(session.lastLink);
    const forged = session.manifest(makeSimDevice('x').privateKey);
    expect(await intake.onManifest(forged, 'm-2', 'dev-1')).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/signature does not verify/) });
  });
});
