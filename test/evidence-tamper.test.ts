// Tampering with evidence, at rest and in transit.
//
// At rest: one real recording (two visits, A then B, recorded by the agent
// with the real ffmpeg and stored by the ingest through Mosquitto) is kept as
// a pristine store; each case copies it, alters the copy as a forger would,
// and runs `nrec verify` as a child process. It must exit non-zero and name
// the chunk as device/session chunk N; the untouched session stays OK.
//
// In transit: forged headers and parts are published straight to Mosquitto on
// the device's topics (a compromised client, or a bad link). Bytes that do not
// match the signed hash, a header signed by another key, and a chunk of one
// device's session published on another device's topic are each rejected
// (counted under rejectReasons.evidence), nothing of them is stored, and the
// genuine chunk sent next is stored.
import { cp, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sign } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { deviceTopic } from '../protocol/index.js';
import { chainLink, manifestDigest, sha256Hex, type ChunkRecord, type Manifest } from '../protocol/media.js';
import { makeSimDevice, SimEvidenceSession, type SignedChunk } from '../simulator/camera/index.js';
import { Cleanup, Mosquitto, World, makeTempDir, waitFor, type TempDir } from './support/index.js';
import { command, deviceSigner, runVerify, storedSession, storedSessions, type StoredSession } from './support/evidence.js';

// 'error': the ingest logs every rejection this file provokes as a warning.
const logger = createLogger('test', { level: 'error' });
const PART_BYTES = 16 * 1024; // what the agent's automatic part size gives on a 2 Mbit/s link
const chunkFile = (i: number) => `chunk-${String(i).padStart(6, '0')}.ts`;
const lines = async (path: string) => (await readFile(path, 'utf8')).trimEnd().split('\n');
const writeLines = (path: string, l: string[]) => writeFile(path, `${l.join('\n')}\n`);

describe('evidence tampering', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;
  let pristine: TempDir;
  let a: StoredSession;
  let b: StoredSession;

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-evidence-'), (d) => d.remove());
    world = cleanup.add(await World.create({ logger, workDir: workDir.path, brokerUrl: mosquitto.url, media: true }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
    const ofVisit = (v: string) => storedSessions(world.storeDir, world.deviceId).find((s) => s.chain[0]?.meta.visitId === v);
    expect((await command(world, 'record.start', { visitId: 'visit-a' })).status).toBe('ok');
    await waitFor('3 chunks of visit A stored', () => (ofVisit('visit-a')?.chain.length ?? 0) >= 3, 60_000, 200);
    // A second visit starting closes the first (with its manifest) and opens its own session.
    expect((await command(world, 'record.start', { visitId: 'visit-b' })).status).toBe('ok');
    await waitFor('2 chunks of visit B stored', () => (ofVisit('visit-b')?.chain.length ?? 0) >= 2, 60_000, 200);
    expect((await command(world, 'record.stop')).status).toBe('ok');
    const closed = (v: string) => {
      const s = ofVisit(v);
      return s?.manifest !== undefined && s.manifest.chunks.length === s.chain.length ? s : undefined;
    };
    [a, b] = await waitFor('both manifests stored', () => {
      const [x, y] = [closed('visit-a'), closed('visit-b')];
      return x !== undefined && y !== undefined ? [x, y] : undefined;
    }, 40_000, 200);
    pristine = cleanup.add(await makeTempDir('nrec-pristine-'), (d) => d.remove());
    await cp(join(world.storeDir, 'evidence'), pristine.file('evidence'), { recursive: true });
    await cp(join(world.storeDir, 'keys'), pristine.file('keys'), { recursive: true });
  }, 150_000);
  afterAll(() => cleanup.run());

  /** A fresh copy of the recorded store; `at(session, file)` is a path inside it. */
  async function copyStore(): Promise<{ root: string; at: (s: StoredSession, f: string) => string }> {
    const d = cleanup.add(await makeTempDir('nrec-tamper-'), (x) => x.remove());
    await cp(pristine.path, d.path, { recursive: true });
    return { root: d.path, at: (s, f) => join(d.path, 'evidence', s.deviceId, s.sessionId, f) };
  }

  /** Runs verify; it must fail, and every line naming a problem must be about `s` (the other session reads OK). */
  async function verifyFails(root: string, s: StoredSession, other: StoredSession): Promise<string> {
    const r = await runVerify(root);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain(`${other.deviceId}/${other.sessionId}: ${other.chain.length} chunks, manifest — OK`);
    const problems = r.output.split('\n').filter((l) => l.startsWith('PROBLEM'));
    expect(problems.length, r.output).toBeGreaterThan(0);
    for (const p of problems) expect(p).toContain(`PROBLEM ${s.deviceId}/${s.sessionId}`);
    return r.output;
  }

  describe('at rest: nrec verify', () => {
    it('passes the untouched recording (two visits, both closed)', async () => {
      expect(a.chain.length).toBeGreaterThanOrEqual(3);
      const { root } = await copyStore();
      const r = await runVerify(root);
      expect(r.output).toContain(`${a.deviceId}/${a.sessionId}: ${a.chain.length} chunks, manifest — OK`);
      expect(r.output).toContain(`${b.deviceId}/${b.sessionId}: ${b.chain.length} chunks, manifest — OK`);
      expect(r.code, r.output).toBe(0);
    });

    it('names a chunk with one flipped byte', async () => {
      const { root, at } = await copyStore();
      const f = at(a, chunkFile(1));
      const bytes = await readFile(f);
      bytes[Math.floor(bytes.length / 2)] ^= 0x20;
      await writeFile(f, bytes);
      const out = await verifyFails(root, a, b);
      expect(out).toMatch(new RegExp(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 1: sha256 of chunk-000001\\.ts .*altered or replaced`));
    });

    it('names a deleted chunk', async () => {
      const { root, at } = await copyStore();
      await unlink(at(a, chunkFile(1)));
      const out = await verifyFails(root, a, b);
      expect(out).toContain(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 1: chunk-000001.ts is missing`);
    });

    it('names two reordered chunks: file names swapped', async () => {
      const { root, at } = await copyStore();
      const [x, y] = [at(a, chunkFile(0)), at(a, chunkFile(1))];
      await rename(x, `${x}.swap`);
      await rename(y, x);
      await rename(`${x}.swap`, y);
      const out = await verifyFails(root, a, b);
      expect(out).toMatch(new RegExp(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 0: sha256 of chunk-000000\\.ts`));
      expect(out).toMatch(new RegExp(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 1: sha256 of chunk-000001\\.ts`));
    });

    it('names two reordered chunks: chain lines swapped', async () => {
      const { root, at } = await copyStore();
      const chain = await lines(at(a, 'chain.ndjson'));
      [chain[0], chain[1]] = [chain[1], chain[0]];
      await writeLines(at(a, 'chain.ndjson'), chain);
      const out = await verifyFails(root, a, b);
      expect(out).toContain(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 1: chain line 1 holds chunk 1, expected 0`);
      expect(out).toContain(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 0: chain line 2 holds chunk 0, expected 1`);
    });

    it('names a chunk swapped in from another session (file and chain line)', async () => {
      const { root, at } = await copyStore();
      await writeFile(at(a, chunkFile(1)), await readFile(at(b, chunkFile(1))));
      const chainA = await lines(at(a, 'chain.ndjson'));
      chainA[1] = (await lines(at(b, 'chain.ndjson')))[1];
      await writeLines(at(a, 'chain.ndjson'), chainA);
      const out = await verifyFails(root, a, b);
      expect(out).toContain(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 1: chain line 2 is a chunk of ${b.deviceId}/${b.sessionId} (moved in from another session)`);
      expect(out).toMatch(new RegExp(`PROBLEM ${a.deviceId}/${a.sessionId} chunk 1: prevLink does not continue the chain`));
    });

    it('names a chunk (and manifest) re-signed with another key', async () => {
      const { root, at } = await copyStore();
      // The forger replaces the last chunk of A with other footage, fixes its meta and link, signs with his own key, and re-signs the manifest to match.
      const forger = makeSimDevice(a.deviceId);
      const last = a.chain.length - 1;
      const bytes = await readFile(at(b, chunkFile(0)));
      const chain = (await lines(at(a, 'chain.ndjson'))).map((l) => JSON.parse(l) as ChunkRecord);
      const r = chain[last];
      const meta = { ...r.meta, bytes: bytes.length, sha256: sha256Hex(bytes) };
      const link = chainLink(r.prevLink, meta);
      chain[last] = { meta, prevLink: r.prevLink, link, sig: sign(null, Buffer.from(link, 'hex'), forger.privateKey).toString('base64') };
      await writeFile(at(a, chunkFile(last)), bytes);
      await writeLines(at(a, 'chain.ndjson'), chain.map((x) => JSON.stringify(x)));
      const m = JSON.parse(await readFile(at(a, 'manifest.json'), 'utf8')) as Manifest;
      m.chunks[last] = { meta, link, sig: chain[last].sig };
      const unsigned = { ...m, lastLink: link } as Omit<Manifest, 'sig'> & { sig?: string };
      delete unsigned.sig;
      await writeFile(at(a, 'manifest.json'), JSON.stringify({ ...unsigned, sig: sign(null, manifestDigest(unsigned), forger.privateKey).toString('base64') }));
      const out = await verifyFails(root, a, b);
      expect(out).toMatch(new RegExp(`PROBLEM ${a.deviceId}/${a.sessionId} chunk ${last}: signature does not verify with the device key`));
      expect(out).toContain(`PROBLEM ${a.deviceId}/${a.sessionId}: manifest signature does not verify with the device key`);
    });
  });

  describe('in transit: the ingest over MQTT', () => {
    let client: MqttClient;
    let realBytes: Buffer;
    beforeAll(async () => {
      client = cleanup.add(await mqtt.connectAsync(mosquitto.url, { clientId: 'nrec-forger' }), (c) => c.endAsync());
      realBytes = await readFile(join(pristine.path, 'evidence', a.deviceId, a.sessionId, chunkFile(0)));
    });

    /** Publishes a chunk's header and parts on `deviceId`'s media topics, optionally altering the part frames. */
    async function publish(deviceId: string, c: SignedChunk, alter: (parts: Buffer[]) => Buffer[] = (p) => p): Promise<void> {
      await client.publishAsync(deviceTopic(deviceId, 'media', 'chunk'), JSON.stringify(c.header(PART_BYTES)), { qos: 1 });
      for (const p of alter(c.parts(PART_BYTES))) await client.publishAsync(deviceTopic(deviceId, 'media', 'part'), p, { qos: 1 });
    }

    /** Resolves with the reasons of the next `n` rejections. */
    function rejections(n: number): Promise<string[]> {
      const got: string[] = [];
      return new Promise((resolve) => {
        const on = (_topic: string, reason: string) => {
          got.push(reason);
          if (got.length < n) return;
          world.ingest.off('rejected', on);
          resolve(got);
        };
        world.ingest.on('rejected', on);
      });
    }

    /** Sends the genuine chunk and waits until it is the stored chunk 0 of its session. */
    async function genuineIsStored(deviceId: string, c: SignedChunk): Promise<void> {
      await publish(deviceId, c);
      const s = await waitFor(`genuine chunk ${c.record.meta.sessionId}/0 stored`, () => {
        const x = storedSession(world.storeDir, deviceId, c.record.meta.sessionId);
        return x.chain.length === 1 ? x : undefined;
      }, 15_000);
      expect(s.chain[0].link).toBe(c.record.link);
      expect(sha256Hex(await readFile(join(s.dir, chunkFile(0))))).toBe(c.record.meta.sha256);
    }

    const evidenceRejects = () => world.ingest.stats.rejectReasons.evidence ?? 0;
    const nothingStored = (deviceId: string, sessionId: string) => {
      const s = storedSession(world.storeDir, deviceId, sessionId);
      expect(s.chain, `${deviceId}/${sessionId} chain`).toEqual([]);
      expect(s.files, `${deviceId}/${sessionId} files`).toEqual([]);
    };

    it('rejects bytes that do not match the signed hash, stores nothing of them, then stores the genuine chunk', async () => {
      const device = deviceSigner(world);
      const c = new SimEvidenceSession(device, 'forged-bytes', Date.now()).add(realBytes);
      const before = evidenceRejects();
      const rejected = rejections(1);
      await publish(device.deviceId, c, (parts) => parts.map((p, i) => {
        if (i !== 1) return p;
        const q = Buffer.from(p);
        q[q.length - 100] ^= 0xff; // inside the payload: the frame header stays valid
        return q;
      }));
      expect(await rejected).toEqual([expect.stringMatching(/forged-bytes\/0.*sha256 of the bytes .* differs from meta/)]);
      expect(evidenceRejects() - before).toBe(1);
      nothingStored(device.deviceId, 'forged-bytes');
      await genuineIsStored(device.deviceId, c);
    });

    it('rejects a header signed by another key, stores nothing of it, then stores the genuine chunk', async () => {
      const device = deviceSigner(world);
      const forger = makeSimDevice(device.deviceId);
      const forged = new SimEvidenceSession(device, 'forged-sig', Date.now()).add(realBytes, forger.privateKey);
      const before = evidenceRejects();
      const rejected = rejections(1);
      await publish(device.deviceId, forged);
      expect(await rejected).toEqual([expect.stringMatching(/forged-sig\/0.*signature does not verify with the device's registered key/)]);
      expect(evidenceRejects() - before).toBe(1);
      nothingStored(device.deviceId, 'forged-sig');
      await genuineIsStored(device.deviceId, new SimEvidenceSession(device, 'forged-sig', Date.now()).add(realBytes));
    });

    it("rejects device A's chunk published on device B's topic, stores nothing of it, then stores it from A", async () => {
      const device = deviceSigner(world);
      const other = makeSimDevice('sim-002');
      await writeFile(join(world.storeDir, 'keys', `${other.deviceId}.pem`), other.publicKeyPem); // B is a registered device too
      const c = new SimEvidenceSession(device, 'cross-device', Date.now()).add(realBytes);
      const parts = c.parts(PART_BYTES).length;
      const before = evidenceRejects();
      const rejected = rejections(1 + parts);
      await publish(other.deviceId, c);
      const reasons = await rejected;
      expect(reasons[0]).toMatch(new RegExp(`header for ${device.deviceId}/cross-device/0 arrived from device ${other.deviceId}`));
      for (const r of reasons.slice(1)) expect(r).toMatch(new RegExp(`part of ${device.deviceId}/cross-device/0 arrived from device ${other.deviceId}`));
      expect(evidenceRejects() - before).toBe(1 + parts);
      nothingStored(device.deviceId, 'cross-device');
      expect(storedSessions(world.storeDir, other.deviceId)).toEqual([]);
      await genuineIsStored(device.deviceId, c);
    });
  });
});
