// The evidence spool's bounds, one by one, through the MediaHandler (what the
// ingest calls for every media message): each refusal carries its code, and
// what is refused leaves nothing in the spool.
import { randomBytes, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { chainLink, encodePart, sha256Hex, type ChunkHeader, type ChunkMeta } from '../../protocol/media.js';
import { makeSimDevice, SimEvidenceSession, type SignedChunk } from '../../simulator/camera/index.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { MediaHandler, type MediaHandlerOptions, type MediaOutcome } from './media-handler.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const logger = createLogger('test', { level: 'silent' });
const device = makeSimDevice('dev-1');
const PART = 1024;

async function store(): Promise<string> {
  const dir = cleanup.add(await makeTempDir('nrec-bounds-'), (d) => d.remove()).path;
  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'keys', 'dev-1.pem'), device.publicKeyPem);
  return dir;
}

const headerMsg = (c: SignedChunk, partSize = PART) => ({ sub: 'chunk', payload: Buffer.from(JSON.stringify(c.header(partSize))) });
const partMsgs = (c: SignedChunk, partSize = PART) => c.parts(partSize).map((payload) => ({ sub: 'part', payload }));

/** Sends messages in order; merges the outcomes. */
async function send(h: MediaHandler, msgs: Array<{ sub: string; payload: Buffer }>): Promise<MediaOutcome> {
  const all: MediaOutcome = { acks: [], stored: 0, indexed: [], rejected: [], rejectCodes: [] };
  for (const m of msgs) {
    const r = await h.handle('dev-1', m.sub, m.payload);
    all.acks.push(...r.acks);
    all.stored += r.stored;
    all.rejected.push(...r.rejected);
    all.rejectCodes.push(...r.rejectCodes);
  }
  return all;
}

/** Everything under the spool, as relative paths. */
async function spooled(dir: string): Promise<string[]> {
  const root = join(dir, '_incoming');
  if (!existsSync(root)) return [];
  return (await readdir(root, { recursive: true })).filter((p) => !p.startsWith('.tmp')).sort();
}

/** A header for chunk `index` of a session, signed by the device, continuing nothing in particular. */
function signedAt(sessionId: string, index: number, bytes: Buffer, partSize = PART): ChunkHeader {
  const meta: ChunkMeta = { v: 1, deviceId: 'dev-1', sessionId, index, startTime: 1, endTime: 2, durationS: 1, codec: 'mpegts/h264/aac', bytes: bytes.length, sha256: sha256Hex(bytes) };
  const prevLink = sha256Hex('anything');
  const link = chainLink(prevLink, meta);
  const parts = Math.max(1, Math.ceil(bytes.length / partSize));
  return { v: 1, id: `${sessionId}-h${index}`, deviceId: 'dev-1', bootId: 'b', seq: 0, ts: 1, meta, prevLink, link, sig: sign(null, Buffer.from(link, 'hex'), device.privateKey).toString('base64'), partCount: parts, partSize };
}

describe('evidence spool bounds', () => {
  it('refuses a header of an unregistered device or with a signature the registered key does not verify, before spooling anything', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger);
    const forged = new SimEvidenceSession(device, 's-forged').add(randomBytes(3 * PART), makeSimDevice('dev-1').privateKey);
    const stranger = new SimEvidenceSession(makeSimDevice('dev-2'), 's-x').add(randomBytes(PART));
    const r = await send(h, [headerMsg(forged)]);
    expect(r.rejectCodes).toEqual(['unverified']);
    expect(r.rejected[0]).toMatch(/signature does not verify with the device's registered key/);
    const r2 = await h.handle('dev-2', 'chunk', Buffer.from(JSON.stringify(stranger.header(PART))));
    expect(r2.rejectCodes).toEqual(['unverified']);
    expect(r2.rejected[0]).toMatch(/no registered key for device dev-2/);
    expect(await spooled(dir)).toEqual([]);
  });

  it('refuses headers outside the size bounds: chunk bytes, part size, part count', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger, { maxChunkBytes: 8 * PART, spoolQuotaBytes: 8 * PART, maxPartBytes: 2 * PART, maxPartsPerChunk: 4 });
    const s = new SimEvidenceSession(device, 's-big');
    const big = s.add(randomBytes(9 * PART));
    expect((await send(h, [headerMsg(big)])).rejectCodes).toEqual(['header-bounds']);
    const fine = new SimEvidenceSession(device, 's-fine').add(randomBytes(5 * PART));
    const wide = await send(h, [headerMsg(fine, 4 * PART)]);
    expect(wide.rejectCodes).toEqual(['header-bounds']);
    expect(wide.rejected[0]).toMatch(/partSize 4096 is over 2048/);
    const many = await send(h, [headerMsg(fine, PART)]);
    expect(many.rejected[0]).toMatch(/5 parts is over 4/);
    expect(await spooled(dir)).toEqual([]);
    expect(() => new MediaHandler(dir, logger, { maxChunkBytes: 10, spoolQuotaBytes: 9 })).toThrow(/below maxChunkBytes/);
  });

  it('refuses a chunk index far ahead of its stored chain (chunk 10^12, header or headerless part), accepts one within reach', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger, { maxChunksAhead: 4 });
    const bytes = randomBytes(PART);
    const far = await h.handle('dev-1', 'chunk', Buffer.from(JSON.stringify(signedAt('s-far', 1e12, bytes))));
    expect(far.rejectCodes).toEqual(['index-bounds']);
    expect(far.rejected[0]).toMatch(/chunk index 1000000000000 is 1000000000000 ahead of the 0 chunks stored/);
    const farPart = await h.handle('dev-1', 'part', encodePart({ v: 1, deviceId: 'dev-1', sessionId: 's-far', chunkIndex: 1e12, part: 0, parts: 1, chunkSha256: sha256Hex(bytes) }, bytes));
    expect(farPart.rejectCodes).toEqual(['index-bounds']);
    expect(await spooled(dir)).toEqual([]);
    const near = await h.handle('dev-1', 'chunk', Buffer.from(JSON.stringify(signedAt('s-far', 4, bytes))));
    expect(near.rejected).toEqual([]);
  });

  it('holds parts to their header: count, index, chunk hash, exact length, largest part', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger);
    const c = new SimEvidenceSession(device, 's-parts').add(randomBytes(3 * PART + 10));
    const other = new SimEvidenceSession(device, 's-parts').add(randomBytes(3 * PART + 10));
    expect((await send(h, [headerMsg(c)])).rejected).toEqual([]);
    const id = { deviceId: 'dev-1', sessionId: 's-parts', chunkIndex: 0, chunkSha256: c.record.meta.sha256 };
    const bad = [
      encodePart({ v: 1, ...id, part: 5, parts: 6 }, Buffer.alloc(PART)), // more parts than the header announces
      encodePart({ v: 1, ...id, chunkSha256: other.record.meta.sha256, part: 1, parts: 4 }, Buffer.alloc(PART)), // another chunk's bytes
      encodePart({ v: 1, ...id, part: 1, parts: 4 }, Buffer.alloc(PART + 1)), // longer than partSize
      encodePart({ v: 1, ...id, part: 3, parts: 4 }, Buffer.alloc(PART)), // the last part is 10 bytes
      encodePart({ v: 1, ...id, part: 2, parts: 4 }, Buffer.alloc(200 * 1024)), // over the largest part
    ];
    const r = await send(h, bad.map((payload) => ({ sub: 'part', payload })));
    expect(r.rejectCodes).toEqual(['part-bounds', 'part-bounds', 'part-bounds', 'part-bounds', 'part-bounds']);
    expect(r.rejected[0]).toMatch(/part 5 of 6 does not fit .* announces 4 parts/);
    expect(r.rejected[2]).toMatch(/carries 1025 bytes; its header makes it 1024/);
    expect((await spooled(dir)).filter((p) => p.endsWith('.bin'))).toEqual([]);
    // The genuine parts still make the chunk.
    const ok = await send(h, partMsgs(c));
    expect(ok).toMatchObject({ stored: 1, rejected: [] });
  });

  it('keeps a few parts waiting for their header (a share group race), refuses more, and completes the chunk when the header comes', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger, { maxHeaderlessParts: 3 });
    const s = new SimEvidenceSession(device, 's-early');
    const c0 = s.add(randomBytes(3 * PART));
    const c1 = s.add(randomBytes(4 * PART));
    const early = await send(h, [...partMsgs(c0), partMsgs(c1)[0]]);
    expect(early.rejectCodes).toEqual(['headerless']);
    expect(early.rejected[0]).toMatch(/came without its header, and device dev-1 already has 3 parts waiting/);
    const done = await send(h, [headerMsg(c0)]);
    expect(done).toMatchObject({ stored: 1, acks: [c0.header(PART).id], rejected: [] });
    // The budget is free again: c1's parts may wait for c1's header now.
    expect((await send(h, partMsgs(c1).slice(0, 2))).rejected).toEqual([]);
    expect(await send(h, [headerMsg(c1), ...partMsgs(c1).slice(2)])).toMatchObject({ stored: 1, rejected: [] });
  });

  it('drops early parts beyond the header\'s part count once the header comes', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger);
    const c = new SimEvidenceSession(device, 's-prune').add(randomBytes(2 * PART));
    const stray = encodePart({ v: 1, deviceId: 'dev-1', sessionId: 's-prune', chunkIndex: 0, chunkSha256: c.record.meta.sha256, part: 7, parts: 8 }, Buffer.alloc(PART));
    expect((await send(h, [{ sub: 'part', payload: stray }])).rejected).toEqual([]);
    expect(await spooled(dir)).toContain(join('dev-1', 's-prune', '0', 'part-7.bin'));
    expect((await send(h, [headerMsg(c)])).rejected).toEqual([]);
    expect(await spooled(dir)).not.toContain(join('dev-1', 's-prune', '0', 'part-7.bin'));
    expect(await send(h, partMsgs(c))).toMatchObject({ stored: 1, rejected: [] });
  });

  it('refuses a different header for a chunk whose header is spooled; a resend of the same is fine', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger);
    const c = new SimEvidenceSession(device, 's-conflict').add(randomBytes(4 * PART));
    expect((await send(h, [headerMsg(c), headerMsg(c)])).rejected).toEqual([]);
    const other = await send(h, [headerMsg(c, 2 * PART)]);
    expect(other.rejectCodes).toEqual(['header-conflict']);
    expect(await send(h, partMsgs(c))).toMatchObject({ stored: 1, rejected: [] });
  });

  it('keeps each device within its spool quota, by count and by declared bytes, shared by the workers on the store', async () => {
    const dir = await store();
    const opts: MediaHandlerOptions = { spoolQuotaChunks: 2, spoolQuotaBytes: 10 * PART, maxChunkBytes: 10 * PART };
    const [w1, w2] = [new MediaHandler(dir, logger, opts), new MediaHandler(dir, logger, opts)];
    const s = new SimEvidenceSession(device, 's-quota');
    const c = [s.add(randomBytes(2 * PART)), s.add(randomBytes(2 * PART)), s.add(randomBytes(2 * PART))];
    // Chunks 1 and 2 wait (chunk 0 is not here): two chunks in the spool, one per worker.
    expect((await send(w1, [headerMsg(c[1])])).rejected).toEqual([]);
    expect((await send(w2, [headerMsg(c[2])])).rejected).toEqual([]);
    const full = await send(w1, [headerMsg(c[0])]);
    expect(full.rejectCodes).toEqual(['spool-quota']);
    expect(full.rejected[0]).toMatch(/device dev-1 has 2 chunks \(4096 bytes\) in the spool/);
    // Its parts have no header to go with and the spool is full: refused too, nothing kept.
    expect((await send(w2, partMsgs(c[0]).slice(0, 1))).rejectCodes).toEqual(['spool-quota']);
    // Finishing chunk 1 does not help (it waits, verified, for chunk 0, still in the spool); dropping it does.
    await send(w1, partMsgs(c[1]));
    expect((await send(w1, [headerMsg(c[0])])).rejectCodes).toEqual(['spool-quota']);

    // By bytes: one chunk of 9 parts fits alone, not next to another.
    const dir2 = await store();
    const h = new MediaHandler(dir2, logger, opts);
    const t = new SimEvidenceSession(device, 's-bytes');
    const [b0, b1] = [t.add(randomBytes(9 * PART)), t.add(randomBytes(2 * PART))];
    expect((await send(h, [headerMsg(b1)])).rejected).toEqual([]);
    expect((await send(h, [headerMsg(b0)])).rejectCodes).toEqual(['spool-quota']);
  });

  it('sweeps a collecting directory whose header never came after headerlessMaxAgeMs', async () => {
    const dir = await store();
    const h = new MediaHandler(dir, logger);
    const c = new SimEvidenceSession(device, 's-orphan').add(randomBytes(2 * PART));
    await send(h, partMsgs(c).slice(0, 1));
    const chunkDir = join(dir, '_incoming', 'dev-1', 's-orphan', '0');
    const minutesAgo = new Date(Date.now() - 3 * 60_000);
    await utimes(chunkDir, minutesAgo, minutesAgo);
    await h.maintain();
    expect(existsSync(chunkDir)).toBe(false);
  });
});
