import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeSimDevice, SimEvidenceSession } from '../../simulator/camera/index.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { auditSession, EvidenceStore, keyRingFromMap } from '../ingest/evidence/index.js';
import type { VisitView } from '../store/index.js';
import { visitCheck } from './evidence-check.js';

// The console's per-chunk verdict, from a real audit of session files an EvidenceStore wrote.
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const device = makeSimDevice('dev-1');
const keys = keyRingFromMap(new Map([['dev-1', device.publicKey]]), 'test keys');

async function session(o: { chunks: number; close: boolean }) {
  const dir = cleanup.add(await makeTempDir('nrec-check-'), (d) => d.remove());
  const store = new EvidenceStore(dir.path);
  const s = new SimEvidenceSession(device, 'sess-1');
  for (let i = 0; i < o.chunks; i++) {
    const c = s.add(randomBytes(2000 + i));
    expect(await store.storeChunk(c.record, c.bytes)).toMatchObject({ ok: true });
  }
  if (o.close) expect(await store.storeManifest(s.manifest())).toMatchObject({ ok: true });
  const sdir = store.sessionDir('dev-1', 'sess-1');
  const visit: VisitView = {
    deviceId: 'dev-1', sessionId: 'sess-1', state: o.close ? 'closed' : 'recording', verification: o.close ? 'verified' : 'pending',
    ...(o.close ? { manifest: s.manifest() } : {}),
    chunks: s.chunks.map((c) => ({ index: c.record.meta.index, sha256: c.record.meta.sha256, bytes: c.record.meta.bytes, path: join(sdir, `chunk-${String(c.record.meta.index).padStart(6, '0')}.ts`), link: c.record.link, startTime: c.record.meta.startTime, endTime: c.record.meta.endTime, verified: true, storedAt: 0 })),
  };
  return { sdir, visit, check: async (k = keys) => visitCheck(visit, await auditSession(sdir, 'dev-1', 'sess-1', k), 42, k.source) };
}

describe('visitCheck', () => {
  it('a closed, intact session: every chunk verified', async () => {
    const s = await session({ chunks: 3, close: true });
    const c = await s.check();
    expect(c).toMatchObject({ state: 'verified', problems: [], gaps: [], checkedAt: 42, keySource: 'test keys' });
    expect(c.chunks.map((x) => [x.index, x.state, x.durationS])).toEqual([[0, 'verified', 1], [1, 'verified', 1], [2, 'verified', 1]]);
  });

  it('a session still recording is incomplete, not failed', async () => {
    const s = await session({ chunks: 2, close: false });
    const c = await s.check();
    expect(c.state).toBe('incomplete');
    expect(c.chunks.every((x) => x.state === 'verified')).toBe(true);
    expect(c.problems).toEqual([expect.stringMatching(/^no manifest/)]);
  });

  it('an altered chunk is rejected with the reason, a removed one missing; the session failed', async () => {
    const s = await session({ chunks: 3, close: true });
    const p1 = s.visit.chunks[1].path;
    const b = await readFile(p1);
    b[10] ^= 1;
    await writeFile(p1, b);
    await rm(s.visit.chunks[2].path);
    const c = await s.check();
    expect(c.state).toBe('failed');
    expect(c.chunks.map((x) => x.state)).toEqual(['verified', 'rejected', 'missing']);
    expect(c.chunks[1].reason).toMatch(/sha256 of chunk-000001\.ts .* differs from the signed meta/);
    expect(c.chunks[2].reason).toBe('chunk-000002.ts is missing');
  });

  it('without the device key nothing is verified: every chunk rejected, saying why', async () => {
    const s = await session({ chunks: 2, close: true });
    const c = await s.check(keyRingFromMap(new Map(), 'no key'));
    expect(c.state).toBe('failed');
    expect(c.chunks.map((x) => x.state)).toEqual(['rejected', 'rejected']);
    expect(c.chunks[0].reason).toMatch(/no device public key/);
  });

  it('shows a chunk the manifest lists but the chain lost as missing, and the hole it leaves on the timeline', async () => {
    const s = await session({ chunks: 3, close: true });
    // The chain file cut after its first line: chunks 1 and 2 are no longer in it.
    const chain = join(s.sdir, 'chain.ndjson');
    await writeFile(chain, `${(await readFile(chain, 'utf8')).split('\n')[0]}\n`);
    const c = await s.check();
    expect(c.chunks.map((x) => [x.index, x.state])).toEqual([[0, 'verified'], [1, 'missing'], [2, 'missing']]);
    expect(c.chunks[1].reason).toBe('listed in the signed manifest but not in the stored chain');
    expect(c.state).toBe('failed');
  });

  it('puts a hole between two chunks on the timeline as a gap, unless the device\'s own gap already covers it', () => {
    const s = new SimEvidenceSession(device, 'sess-2');
    const recs = [0, 1, 2].map(() => s.add(randomBytes(100)).record);
    recs[2] = { ...recs[2], meta: { ...recs[2].meta, startTime: recs[2].meta.startTime + 5000, endTime: recs[2].meta.endTime + 5000 } };
    const visit: VisitView = { deviceId: 'dev-1', sessionId: 'sess-2', state: 'recording', verification: 'pending', chunks: [] };
    const audit = { problems: [], records: recs, present: new Set([0, 1, 2]), keyFound: true, manifestAbsent: true };
    const c = visitCheck(visit, audit, 0);
    expect(c.gaps).toEqual([{ from: recs[1].meta.endTime, to: recs[2].meta.startTime, reason: 'no recording between chunk 1 and chunk 2' }]);
    const own = visitCheck({ ...visit, manifest: { ...s.manifest(), gaps: [{ from: recs[1].meta.endTime, to: recs[2].meta.startTime, reason: 'camera unplugged' }] } }, audit, 0);
    expect(own.gaps.map((g) => g.reason)).toEqual(['camera unplugged']);
  });
});
