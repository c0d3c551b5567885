import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { makeSimDevice, SimEvidenceSession, type SignedChunk } from '../../simulator/camera/index.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { EvidenceStore } from './evidence/index.js';
import { MediaHandler, type MediaOutcome } from './media-handler.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const logger = createLogger('test', { level: 'silent' });
const device = makeSimDevice('dev-1');
const PART = 1024;

/** A store with the device's key registered, a session of `n` signed chunks (3-4 parts each), and `workers` handlers on it. */
async function setup(n: number, workers = 2) {
  const dir = cleanup.add(await makeTempDir('nrec-media-'), (d) => d.remove()).path;
  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'keys', 'dev-1.pem'), device.publicKeyPem);
  const session = new SimEvidenceSession(device, 'sess-1');
  for (let i = 0; i < n; i++) session.add(randomBytes(3 * PART + 100 * i));
  const handlers = Array.from({ length: workers }, () => new MediaHandler(dir, logger));
  return { dir, session, handlers };
}

/** The messages of one chunk as the device sends them: header, then parts. */
function messages(c: SignedChunk): Array<{ sub: string; payload: Buffer }> {
  return [{ sub: 'chunk', payload: Buffer.from(JSON.stringify(c.header(PART))) }, ...c.parts(PART).map((p) => ({ sub: 'part', payload: p }))];
}

/** Hands message i to handler i mod n (a shared subscription's round robin) and merges the outcomes. */
async function roundRobin(handlers: MediaHandler[], msgs: Array<{ sub: string; payload: Buffer }>): Promise<MediaOutcome> {
  const all: MediaOutcome = { acks: [], stored: 0, indexed: [], rejected: [], rejectCodes: [] };
  for (const [i, m] of msgs.entries()) {
    const r = await handlers[i % handlers.length].handle('dev-1', m.sub, m.payload);
    all.acks.push(...r.acks);
    all.stored += r.stored;
    all.rejected.push(...r.rejected);
    all.rejectCodes.push(...r.rejectCodes);
  }
  return all;
}

async function spoolEntries(dir: string): Promise<string[]> {
  const s = join(dir, '_incoming', 'dev-1', 'sess-1');
  return existsSync(s) ? readdir(s) : [];
}

describe('MediaHandler over the shared spool', () => {
  it('stores chunks whose parts went to different workers, out of order and twice, each once and in chain order', async () => {
    const { dir, session, handlers } = await setup(4);
    const [c0, c1, c2, c3] = session.chunks.map(messages);
    // Chunk 2 and 3 complete before 1; parts reversed, some twice; every chunk split over both workers.
    const msgs = [...c0, ...c2.reverse(), c3[2], ...c3, c1[1], ...c1.slice(2), c1[0], c1[1]];
    const r = await roundRobin(handlers, msgs);
    expect(r.rejected).toEqual([]);
    expect(r.stored).toBe(4);
    expect([...r.acks].sort()).toEqual(session.chunks.map((c) => c.header(PART).id).sort());
    const chain = await new EvidenceStore(join(dir, 'evidence')).chain('dev-1', 'sess-1');
    expect(chain.map((x) => x.link)).toEqual(session.chunks.map((c) => c.record.link));
    expect(await spoolEntries(dir)).toEqual([]);
  });

  it('acknowledges a resent chunk already stored at its header, drops its parts and leaves no spool behind', async () => {
    const { dir, session, handlers } = await setup(1);
    const msgs = messages(session.chunks[0]);
    expect((await roundRobin(handlers, msgs)).stored).toBe(1);
    // The ack was lost: the device sends the whole chunk again, parts first this time.
    const again = await roundRobin(handlers, [...msgs.slice(1), msgs[0]]);
    expect(again).toMatchObject({ acks: [session.chunks[0].header(PART).id], stored: 0, rejected: [], rejectCodes: [] });
    expect(await spoolEntries(dir)).toEqual([]);
  });

  it('completes a chunk after a restart from what the previous process spooled', async () => {
    const { dir, session, handlers } = await setup(1, 1);
    const msgs = messages(session.chunks[0]);
    await roundRobin(handlers, msgs.slice(0, 2));
    const restarted = new MediaHandler(dir, logger);
    const r = await roundRobin([restarted], msgs.slice(2));
    expect(r.acks).toEqual([session.chunks[0].header(PART).id]);
    expect(r.stored).toBe(1);
  });

  it('maintain() stores what a crashed worker left complete but unclaimed, and unblocks the chunk parked behind it', async () => {
    const { dir, session, handlers } = await setup(2);
    const [c0, c1] = session.chunks.map(messages);
    // Chunk 1 arrives whole and waits for chunk 0 (parked); chunk 0's last write happened, but its worker died before claiming it.
    expect((await roundRobin(handlers, c1)).stored).toBe(0);
    const ref = { deviceId: 'dev-1', sessionId: 'sess-1', index: 0 };
    await handlers[0].spool.putHeader(ref, c0[0].payload);
    for (const [i, p] of c0.slice(1).entries()) await handlers[0].spool.putPart(ref, i, p.payload);
    expect((await spoolEntries(dir)).sort()).toEqual(['0', '1.verified']);
    const out = await new MediaHandler(dir, logger).maintain();
    expect(out).toMatchObject([{ deviceId: 'dev-1', acks: session.chunks.map((c) => c.header(PART).id), stored: 2, rejected: [], rejectCodes: [] }]);
    expect(out[0].indexed.map((i) => (i.kind === 'chunk' ? i.record.meta.index : -1))).toEqual([0, 1]);
    expect(await spoolEntries(dir)).toEqual([]);
  });

  it('rejects a chunk whose bytes do not match its signed hash, stores nothing and drops it from the spool', async () => {
    const { dir, session, handlers } = await setup(1);
    const msgs = messages(session.chunks[0]);
    const bad = Buffer.from(msgs[2].payload);
    bad[bad.length - 10] ^= 0xff;
    const r = await roundRobin(handlers, [msgs[0], msgs[1], { sub: 'part', payload: bad }, ...msgs.slice(3)]);
    expect(r.stored).toBe(0);
    expect(r.rejected).toEqual([expect.stringMatching(/dev-1\/sess-1\/0: .*sha256 of the bytes .* differs from meta/)]);
    expect(await spoolEntries(dir)).toEqual([]);
    expect(existsSync(join(dir, 'evidence', 'dev-1', 'sess-1', 'chain.ndjson'))).toBe(false);
  });

  it('refuses a header whose ids would leave the store, before writing anything', async () => {
    const { dir, session, handlers } = await setup(1);
    const h = { ...session.chunks[0].header(PART) };
    h.meta = { ...h.meta, sessionId: '../../x' };
    const r = await handlers[0].handle('dev-1', 'chunk', Buffer.from(JSON.stringify(h)));
    expect(r.rejected).toHaveLength(1);
    expect(existsSync(join(dir, '_incoming'))).toBe(false);
  });
});
