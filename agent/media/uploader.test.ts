import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { decodePart } from '../../protocol/index.js';
import { makeTempDir, type TempDir } from '../../test/support/temp.js';
import { createLogger } from '../../lib/logger.js';
import { Envelope } from '../transport/envelope.js';
import type { BulkPart } from '../transport/bulk-pump.js';
import { EvidenceSession } from './evidence.js';
import { ChunkUploader } from './uploader.js';

const logger = createLogger('test', { level: 'silent' });
const kbps = (k: number) => (k * 1000) / 8;
const dirs: TempDir[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

async function chunks(n: number, bytes: number) {
  const dir = await makeTempDir('nrec-uploader-');
  dirs.push(dir);
  const { privateKey } = generateKeyPairSync('ed25519');
  const session = new EvidenceSession({ deviceId: 'up-1', sessionId: 's1', trigger: 'visit', startedAt: Date.now(), codec: 'mpegts', privateKey });
  const out = [];
  for (let i = 0; i < n; i++) {
    const path = dir.file(`chunk-${i}.ts`);
    const data = randomBytes(bytes);
    await writeFile(path, data);
    out.push({ path, data, record: await session.addChunk({ path, startTime: i * 10_000, endTime: (i + 1) * 10_000, durationS: 10 }) });
  }
  return { dir, files: out };
}

function decoded(p: BulkPart) {
  const d = decodePart(p.payload);
  if (!d.ok) throw new Error(d.reason);
  return d;
}
const header = (p: BulkPart) => JSON.parse(p.payload.toString()) as { id: string; partSize: number; partCount: number };

describe('ChunkUploader part size', () => {
  it("'auto' sizes each chunk from the rate when its upload starts, and the parts add up to the file", async () => {
    const { dir, files } = await chunks(2, 300_000);
    const up = new ChunkUploader({ dbPath: dir.file('uploads.db'), envelope: new Envelope('up-1'), partBytes: 'auto', logger });
    for (const f of files) up.enqueue(f.record, f.path);

    const h0 = header(up.next(kbps(4000))!);
    expect([h0.partSize, h0.partCount]).toEqual([32 * 1024, Math.ceil(300_000 / (32 * 1024))]);
    const parts: Buffer[] = [];
    for (let i = 0; i < h0.partCount; i++) {
      const p = up.next(kbps(50_000))!; // the rate rising mid-chunk does not change this chunk's parts
      const d = decoded(p);
      expect([d.header.part, d.header.parts]).toEqual([i, h0.partCount]);
      parts.push(Buffer.from(d.payload));
      up.acked(p);
    }
    expect(Buffer.concat(parts).equals(files[0].data)).toBe(true);

    const h1 = header(up.next(kbps(50_000))!);
    expect([h1.partSize, h1.partCount]).toEqual([128 * 1024, 3]);
    up.close();
  });

  it('keeps a chosen size across a restart, even when the rate differs then', async () => {
    const { dir, files } = await chunks(1, 200_000);
    const db = dir.file('uploads.db');
    const first = new ChunkUploader({ dbPath: db, envelope: new Envelope('up-1'), partBytes: 'auto', logger });
    first.enqueue(files[0].record, files[0].path);
    const h = header(first.next(kbps(2000))!);
    expect(h.partSize).toBe(16 * 1024);
    const p0 = first.next(kbps(2000))!;
    first.acked(p0);
    first.close();

    const again = new ChunkUploader({ dbPath: db, envelope: new Envelope('up-1'), partBytes: 'auto', logger });
    const h2 = header(again.next(kbps(50_000))!);
    expect(h2).toEqual(h);
    const next = decoded(again.next(kbps(50_000))!);
    expect(next.header.part).toBe(1); // part 0 was acknowledged before the restart
    expect(next.payload.length).toBe(16 * 1024);
    again.close();
  });

  it('after a restart sends again at once a chunk whose parts the broker had all acknowledged', async () => {
    // The ingest never confirmed it and the broker may have lost it (a relay): waiting out
    // resendAfterMs (2 min) after every power cut delayed evidence (test/power-cut.test.ts).
    const { dir, files } = await chunks(1, 10_000);
    const db = dir.file('uploads.db');
    const first = new ChunkUploader({ dbPath: db, envelope: new Envelope('up-1'), partBytes: 4096, logger });
    first.enqueue(files[0].record, files[0].path);
    const h = header(first.next()!);
    for (let i = 0; i < h.partCount; i++) first.acked(first.next()!);
    expect(first.next(), 'complete: nothing to send until the ingest confirms or the timeout').toBeUndefined();
    first.close();

    const again = new ChunkUploader({ dbPath: db, envelope: new Envelope('up-1'), partBytes: 4096, logger });
    expect(header(again.next()!)).toEqual(h);
    const parts: Buffer[] = [];
    for (let i = 0; i < h.partCount; i++) {
      const p = again.next()!;
      parts.push(Buffer.from(decoded(p).payload));
      again.acked(p);
    }
    expect(Buffer.concat(parts).equals(files[0].data)).toBe(true);
    expect(again.next()).toBeUndefined();
    again.close();
  });

  it('a fixed size is in the header from the start', async () => {
    const { dir, files } = await chunks(1, 10_000);
    const up = new ChunkUploader({ dbPath: dir.file('uploads.db'), envelope: new Envelope('up-1'), partBytes: 4096, logger });
    up.enqueue(files[0].record, files[0].path);
    expect(header(up.next(kbps(50_000))!)).toMatchObject({ partSize: 4096, partCount: 3 });
    up.close();
  });
});
