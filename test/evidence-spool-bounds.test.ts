// The ingest's evidence spool under junk from a device's own topics, while
// the real agent records a visit through Mosquitto. The junk: parts with no
// header (more than the few the spool keeps waiting for one), a part larger
// than any device sends, a header for chunk 10^12 signed with the device's
// key, a header signed with another key, a header with an oversized part
// size. Each is refused or kept within its bound, counted under
// rejectReasons.evidence with its reason, the spool holds no more than the
// headerless budget of it, nothing of it reaches the evidence store, and the
// visit's own chunks keep being stored: the session closes with its manifest
// and `nrec verify` passes.
import { sign } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { deviceTopic } from '../protocol/index.js';
import { chainLink, encodePart, sha256Hex, type ChunkHeader, type ChunkMeta } from '../protocol/media.js';
import { makeSimDevice } from '../simulator/camera/index.js';
import { Cleanup, Mosquitto, World, makeTempDir, waitFor } from './support/index.js';
import { command, deviceSigner, runVerify, storedSessions } from './support/evidence.js';

// 'error': the ingest logs every rejection this file provokes as a warning.
const logger = createLogger('test', { level: 'error' });
const HEADERLESS_BUDGET = 32; // MediaHandler's default maxHeaderlessParts
const JUNK_PART = 1024;

/** Bytes of every file below `dir`. */
function treeBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

describe('evidence spool bounds under junk from a device', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;
  let forger: MqttClient;

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-spool-bounds-'), (d) => d.remove());
    world = cleanup.add(await World.create({ logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
    forger = cleanup.add(await mqtt.connectAsync(mosquitto.url, { clientId: 'nrec-junk' }), (c) => c.endAsync());
  }, 60_000);
  afterAll(() => cleanup.run());

  it('refuses and counts the junk, keeps the spool bounded, and stores the visit whole', async () => {
    const dev = world.deviceId;
    const visit = () => storedSessions(world.storeDir, dev).find((s) => s.chain[0]?.meta.visitId === 'visit-bounds');
    expect((await command(world, 'record.start', { visitId: 'visit-bounds' })).status).toBe('ok');
    await waitFor('the first chunk of the visit stored', () => (visit()?.chain.length ?? 0) >= 1, 60_000, 200);
    const storedBefore = visit()!.chain.length;

    const reasons: string[] = [];
    world.ingest.on('rejected', (_t: string, r: string) => reasons.push(r));
    const before = world.ingest.stats.rejectReasons.evidence ?? 0;
    const key = deviceSigner(world);
    const part = (sessionId: string, index: number, payload: Buffer) =>
      encodePart({ v: 1, deviceId: dev, sessionId, chunkIndex: index, part: 0, parts: 1, chunkSha256: sha256Hex(payload) }, payload);
    const header = (sessionId: string, index: number, bytes: number, partSize: number, signer = key.privateKey): ChunkHeader => {
      const meta: ChunkMeta = { v: 1, deviceId: dev, sessionId, index, startTime: 1, endTime: 2, durationS: 1, codec: 'mpegts/h264/aac', bytes, sha256: sha256Hex(`junk-${sessionId}`) };
      const prevLink = sha256Hex('no chain');
      const link = chainLink(prevLink, meta);
      return { v: 1, id: `junk-${sessionId}-${index}`, deviceId: dev, bootId: 'junk', seq: 0, ts: 1, meta, prevLink, link, sig: sign(null, Buffer.from(link, 'hex'), signer).toString('base64'), partCount: Math.max(1, Math.ceil(bytes / partSize)), partSize };
    };
    const pub = (sub: string, payload: Buffer | string) => forger.publishAsync(deviceTopic(dev, 'media', sub), payload, { qos: 1 });

    // Headerless parts, each of its own chunk: the first few wait for a header, the rest are refused; one for chunk 10^12 is refused outright.
    const extra = 8;
    for (let i = 0; i < HEADERLESS_BUDGET + extra; i++) await pub('part', part(`junk-${i}`, 0, Buffer.alloc(JUNK_PART, i)));
    await pub('part', part('junk-farpart', 1e12, Buffer.alloc(JUNK_PART, 1)));
    await pub('part', part('junk-big', 0, Buffer.alloc(200 * 1024, 1)));
    await pub('chunk', JSON.stringify(header('junk-far', 1e12, 4096, 4096)));
    await pub('chunk', JSON.stringify(header('junk-sig', 0, 4096, 4096, makeSimDevice(dev).privateKey)));
    await pub('chunk', JSON.stringify(header('junk-wide', 0, 4 * 1024 * 1024, 1024 * 1024)));
    const expected = extra + 5;
    await waitFor(`${expected} evidence rejections`, () => (world.ingest.stats.rejectReasons.evidence ?? 0) - before >= expected, 30_000);

    expect(reasons.filter((r) => /came without its header, and device .* already has 32 parts waiting/.test(r))).toHaveLength(extra);
    expect(reasons.filter((r) => /junk-farpart\/1000000000000.*came without its header, for chunk index 1000000000000/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => /junk-big\/0.*carries 204800 bytes, over 131072/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => /junk-far\/1000000000000.*ahead of the 0 chunks stored/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => /junk-sig\/0.*signature does not verify with the device's registered key/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => /partSize/.test(r))).toHaveLength(1);

    // The visit goes on being stored, then closes whole.
    await waitFor('2 more chunks of the visit stored', () => (visit()?.chain.length ?? 0) >= storedBefore + 2, 60_000, 200);
    expect((await command(world, 'record.stop')).status).toBe('ok');
    const closed = await waitFor('the visit closed with its manifest', () => {
      const s = visit();
      return s?.manifest !== undefined && s.manifest.chunks.length === s.chain.length ? s : undefined;
    }, 60_000, 200);
    const verify = await runVerify(world.storeDir);
    expect(verify.output).toContain(`${dev}/${closed.sessionId}: ${closed.chain.length} chunks, manifest — OK`);
    expect(verify.code, verify.output).toBe(0);

    // Of the junk, the spool holds at most the parts it let wait for a header; the evidence store has none of it.
    expect(treeBytes(join(world.storeDir, '_incoming', dev))).toBeLessThanOrEqual(HEADERLESS_BUDGET * (JUNK_PART + 512));
    expect(storedSessions(world.storeDir, dev).map((s) => s.sessionId)).toEqual([closed.sessionId]);
    expect((world.ingest.stats.rejectReasons.evidence ?? 0) - before).toBe(expected);
  }, 180_000);
});
