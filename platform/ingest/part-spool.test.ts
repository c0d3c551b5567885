import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { PartSpool, type ChunkRef } from './part-spool.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const ref: ChunkRef = { deviceId: 'dev-1', sessionId: 'sess-1', index: 4 };
const header = (partCount: number) => JSON.stringify({ id: 'h-4', partCount, partSize: 8, link: 'l-4', meta: { bytes: 8 * partCount, sha256: 's-4' } });
const frame = (i: number) => Buffer.from(`frame ${i}`);

async function root(): Promise<string> {
  return cleanup.add(await makeTempDir('nrec-spool-'), (d) => d.remove()).path;
}

/** Two workers on one spool: distinct processes as far as locks and claims can tell. */
function workers(dir: string, isAlive: (pid: number) => boolean = () => true) {
  const a = new PartSpool({ root: dir, self: { host: 'h1', pid: 101, nonce: 'aaaa' }, isAlive });
  const b = new PartSpool({ root: dir, self: { host: 'h1', pid: 202, nonce: 'bbbb' }, isAlive });
  return { a, b };
}

describe('PartSpool', () => {
  it('is complete only once the header and every part are in, whichever worker wrote them, in any order and twice', async () => {
    const { a, b } = workers(await root());
    await b.putPart(ref, 2, frame(2));
    await a.putPart(ref, 0, frame(0));
    expect(await a.isComplete(ref)).toBe(false); // no header yet
    await b.putHeader(ref, header(3));
    await b.putPart(ref, 0, frame(0));
    expect(await b.isComplete(ref)).toBe(false);
    await a.putPart(ref, 1, frame(1));
    expect(await a.isComplete(ref)).toBe(true);
    expect(await b.isComplete(ref)).toBe(true);
  });

  it('lets exactly one of two racing workers claim a chunk, and hands it over with the frames in order', async () => {
    const { a, b } = workers(await root());
    await a.putHeader(ref, header(3));
    for (const i of [2, 0, 1]) await (i % 2 ? a : b).putPart(ref, i, frame(i));
    const claims = await Promise.all([a.claim(ref), b.claim(ref), a.claim(ref)]);
    const won = claims.filter((c) => c !== undefined);
    expect(won).toHaveLength(1);
    const got = await a.read(won[0]!);
    expect(got.header).toBe(header(3));
    expect(got.frames.map(String)).toEqual(['frame 0', 'frame 1', 'frame 2']);
    // A copy arriving after the claim starts a new, incomplete collection.
    await b.putPart(ref, 1, frame(1));
    expect(await b.isComplete(ref)).toBe(false);
  });

  it('parks one verified copy of a chunk and lets the next worker take it', async () => {
    const { a, b } = workers(await root());
    for (const s of [a, b]) {
      await s.putHeader(ref, header(1));
      await s.putPart(ref, 0, frame(0));
      const c = (await s.claim(ref))!;
      expect(await s.park(c)).toBe(s === a); // the second copy is dropped, the first kept
    }
    const taken = await b.claimVerified(ref);
    expect(taken).toBeDefined();
    expect((await b.read(taken!)).frames.map(String)).toEqual(['frame 0']);
    expect(await a.claimVerified(ref)).toBeUndefined();
  });

  it('serializes a session between workers', async () => {
    const { a, b } = workers(await root());
    const log: string[] = [];
    const section = (who: string) => async () => {
      log.push(`${who} in`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`${who} out`);
    };
    await Promise.all([a.withSessionLock('dev-1', 'sess-1', section('a')), b.withSessionLock('dev-1', 'sess-1', section('b')), a.withSessionLock('dev-1', 'sess-1', section('a2'))]);
    expect(log).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(log[i + 1]).toBe(log[i].replace(' in', ' out'));
  });

  it('takes over the session lock of a worker that died inside it', async () => {
    const dir = await root();
    let dead = false;
    const { a, b } = workers(dir, (pid) => !(dead && pid === 101));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    // Worker a "dies" holding the lock: its section never ends.
    void a.withSessionLock('dev-1', 'sess-1', () => {
      entered();
      return new Promise(() => undefined);
    });
    await inside;
    dead = true;
    expect(await b.withSessionLock('dev-1', 'sess-1', async () => 'b ran')).toBe('b ran');
  });

  it('takes over a lock older than lockStaleMs from another host', async () => {
    const dir = await root();
    const other = new PartSpool({ root: dir, self: { host: 'h2', pid: 7, nonce: 'cccc' } });
    void other.withSessionLock('dev-1', 'sess-1', () => new Promise(() => undefined));
    await new Promise((r) => setTimeout(r, 20));
    const later = new PartSpool({ root: dir, lockStaleMs: 30_000, now: () => Date.now() + 31_000, self: { host: 'h1', pid: 1, nonce: 'dddd' } });
    expect(await later.withSessionLock('dev-1', 'sess-1', async () => 'ran')).toBe('ran');
  });

  it('scans for complete unclaimed chunks, parked chunks and claims of workers that are gone', async () => {
    const dir = await root();
    const { a, b } = workers(dir, (pid) => pid !== 101); // a is gone
    const r = (index: number) => ({ ...ref, index });
    for (const i of [0, 1, 2, 3]) {
      await a.putHeader(r(i), header(1));
      await a.putPart(r(i), 0, frame(i));
    }
    await b.putHeader(r(5), header(2)); // incomplete: not listed
    await a.claim(r(1)); // a died holding it
    await b.claim(r(2)); // b is alive and working on it
    await b.park((await b.claim(r(3)))!);
    const items = await b.scan();
    expect(items).toHaveLength(3);
    expect(items).toEqual(expect.arrayContaining([
      { kind: 'complete', ref: r(0) },
      { kind: 'abandoned', ref: r(1), name: expect.stringMatching(/^1\.claimed-h1\.101\.aaaa$/) },
      { kind: 'verified', ref: r(3) },
    ]));
    const abandoned = items.find((i) => i.kind === 'abandoned')!;
    const adopted = await b.adopt(abandoned.ref, abandoned.kind === 'abandoned' ? abandoned.name : '');
    expect((await b.read(adopted!)).frames.map(String)).toEqual(['frame 1']);
  });

  it('counts an earlier process with the same pid as gone (a restarted worker in a container)', async () => {
    const dir = await root();
    const before = new PartSpool({ root: dir, self: { host: 'h1', pid: 1, nonce: 'aaaa' } });
    const after = new PartSpool({ root: dir, self: { host: 'h1', pid: 1, nonce: 'ffff' } });
    await before.putHeader(ref, header(1));
    await before.putPart(ref, 0, frame(0));
    await before.claim(ref);
    expect(await after.scan()).toEqual([{ kind: 'abandoned', ref, name: '4.claimed-h1.1.aaaa' }]);
    expect(await before.scan()).toEqual([]);
  });

  it('sweeps chunks and temp files untouched for maxAgeMs, keeps fresh ones, removes emptied session directories', async () => {
    const dir = await root();
    const spool = new PartSpool({ root: dir, maxAgeMs: 3_600_000 });
    const old = { deviceId: 'dev-1', sessionId: 'old', index: 0 };
    await spool.putHeader(old, header(2));
    await spool.putPart(old, 0, Buffer.alloc(1000));
    await spool.putHeader(ref, header(2));
    await mkdir(join(dir, '.tmp'), { recursive: true });
    await writeFile(join(dir, '.tmp', 'part-0.bin-dead'), 'x');
    const hoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const p of [join(dir, 'dev-1', 'old', '0'), join(dir, '.tmp', 'part-0.bin-dead')]) await utimes(p, hoursAgo, hoursAgo);
    const report = await spool.sweep();
    expect(report.chunks).toBe(1);
    expect(report.tmp).toBe(1);
    expect(report.bytes).toBeGreaterThanOrEqual(1000);
    expect((await readdir(join(dir, 'dev-1'))).sort()).toEqual(['sess-1']);
    expect(await readdir(join(dir, 'dev-1', 'sess-1'))).toEqual(['4']);
  });

  it('refuses ids and numbers that could leave the spool', async () => {
    const spool = new PartSpool({ root: await root() });
    expect(() => spool.putHeader({ ...ref, deviceId: '..' }, header(1))).toThrow(/invalid device or session id/);
    expect(() => spool.putHeader(ref, '{"partCount":1}')).toThrow(/no usable partCount, partSize and meta.bytes/);
    expect(() => spool.putPart({ ...ref, sessionId: 'a/../../b' }, 0, frame(0))).toThrow(/invalid device or session id/);
    expect(() => spool.putPart({ ...ref, index: -1 }, 0, frame(0))).toThrow(/invalid chunk index/);
    expect(() => spool.putPart(ref, 1.5, frame(0))).toThrow(/invalid part number/);
  });
});
