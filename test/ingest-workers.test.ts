// Two ingest workers on one store: `nrec ingest --share nrec --client-id …`
// as child processes (what production runs), on a real Mosquitto (MQTT 5
// shared subscription: it hands each message to the next worker of the group,
// so a chunk's parts are spread over both). Evidence is published straight to
// the broker on a device's topics, as in evidence-tamper.test.ts.
//
// 1. Six signed chunks, their messages shuffled together, some sent twice,
//    chunk 1's header held back until chunks 2-5 are verified and parked in
//    the spool: every chunk is stored exactly once (one "evidence stored"
//    line over both workers), acknowledged on cmd/ack, the chain is in order,
//    the spool is left empty, a resent stored chunk is acknowledged again,
//    and with the session's manifest published, `nrec verify` passes (exit 0:
//    a clean store, rather than one with a known missing manifest).
// 2. A worker is killed (SIGKILL) while a chunk is partly spooled; the rest of
//    the chunk is published while it is down (Mosquitto queues part of it in
//    the dead worker's persistent session), then it is restarted: the chunk
//    completes from the spool, without the parts it had received being sent
//    again, and is stored once.
import { EventEmitter, once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic, inboundTopic } from '../protocol/index.js';
import { makeSimDevice, SimEvidenceSession, type SignedChunk } from '../simulator/camera/index.js';
import { Cleanup, Mosquitto, makeTempDir, waitFor, type TempDir } from './support/index.js';
import { IngestProcess } from './support/ingest-process.js';
import { runVerify, storedSession } from './support/evidence.js';

const PART = 4096;
const device = makeSimDevice('sim-w');

/** Collects the ids the ingest acknowledges to the device, and how often. */
class AckWatch extends EventEmitter {
  readonly counts = new Map<string, number>();

  constructor(client: MqttClient) {
    super();
    client.on('message', (topic, payload) => {
      if (topic !== inboundTopic(device.deviceId, 'ack')) return;
      for (const id of (JSON.parse(payload.toString()) as { acked: string[] }).acked) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
      this.emit('ack');
    });
  }

  /** Resolves once every id has been acknowledged at least `times` times. */
  async until(ids: string[], times = 1, timeoutMs = 30_000): Promise<void> {
    const done = () => ids.every((id) => (this.counts.get(id) ?? 0) >= times);
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`not acknowledged ${times}x within ${timeoutMs} ms: ${ids.filter((id) => (this.counts.get(id) ?? 0) < times).join(', ')}`);
      await Promise.race([once(this, 'ack'), new Promise((r) => setTimeout(r, left))]);
    }
  }
}

interface Msg {
  sub: 'chunk' | 'part';
  payload: Buffer;
  chunk: number;
}

/** A chunk's messages as the device sends them: its header, then its parts. */
function messagesOf(c: SignedChunk): Msg[] {
  const chunk = c.record.meta.index;
  return [{ sub: 'chunk', payload: Buffer.from(JSON.stringify(c.header(PART))), chunk }, ...c.parts(PART).map((payload) => ({ sub: 'part' as const, payload, chunk }))];
}

/** Deterministic shuffle (mulberry32), so a failure replays the same order. */
function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed;
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('ingest workers sharing one store (MQTT 5 shared subscription)', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let store: TempDir;
  let client: MqttClient;
  let acks: AckWatch;
  let workers: IngestProcess[];

  const publish = (m: { sub: string; payload: Buffer }) => client.publishAsync(deviceTopic(device.deviceId, 'media', m.sub), m.payload, { qos: 1 });
  const spoolDir = (sessionId: string) => join(store.path, '_incoming', device.deviceId, sessionId);
  const spoolEntries = (sessionId: string) => (existsSync(spoolDir(sessionId)) ? readdirSync(spoolDir(sessionId)) : []);
  /** "evidence stored" lines naming this chunk, over every run of every worker. */
  const storedLines = (key: string) => workers.flatMap((w) => w.logs('evidence stored')).filter((l) => l.chunk === key).length;
  /** Chunk keys whose parts this worker spooled, from line `from` on. */
  const spooledBy = (w: IngestProcess, from = 0) => new Set(w.lines.slice(from).filter((l) => l.includes('"msg":"evidence part spooled"')).map((l) => String((JSON.parse(l) as { chunk: string }).chunk)));

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    store = cleanup.add(await makeTempDir('nrec-workers-'), (d) => d.remove());
    await mkdir(store.file('keys'));
    await writeFile(join(store.path, 'keys', `${device.deviceId}.pem`), device.publicKeyPem);
    client = cleanup.add(await mqtt.connectAsync(mosquitto.url, { clientId: 'nrec-test-device' }), (c) => c.endAsync());
    acks = new AckWatch(client);
    await client.subscribeAsync(inboundTopic(device.deviceId, 'ack'), { qos: 1 });
    workers = ['w1', 'w2'].map((n) => new IngestProcess(['--broker', mosquitto.url, '--store', store.path, '--share', 'nrec', '--client-id', `nrec-ingest-${n}`], { name: n, logLevel: 'debug' }));
    for (const w of workers) cleanup.add(w, (x) => x.stop('SIGKILL'));
    await Promise.all(workers.map((w) => w.start()));
  }, 60_000);
  afterAll(() => cleanup.run());

  it('stores every chunk once, in chain order, whichever worker got its parts, in any order and twice; acknowledges each; verify passes', async () => {
    const session = new SimEvidenceSession(device, 'shared-1', Date.now());
    for (let i = 0; i < 6; i++) session.add(Buffer.alloc(4 * PART + 700 * (i + 1), i + 1)); // 5 parts each
    const ids = session.chunks.map((c) => c.header(PART).id);
    const all = session.chunks.flatMap(messagesOf);
    const heldBack = all.find((m) => m.sub === 'chunk' && m.chunk === 1)!;
    // Every part of chunks 0 and 2-5 once more, and one header twice: the broker may deliver twice, the device resends.
    const dups = all.filter((m, i) => m !== heldBack && (m.sub === 'chunk' ? m.chunk === 3 : i % 3 === 0));
    const first = shuffle([...all.filter((m) => m !== heldBack), ...dups], 7);
    for (const m of first) await publish(m);

    // Chunks 2-5 complete without chunk 1 (its header is missing): they must wait, verified, in the spool; chunk 0 is stored.
    await acks.until([ids[0]]);
    await waitFor('chunks 2-5 parked in the spool', () => [2, 3, 4, 5].every((i) => spoolEntries('shared-1').includes(`${i}.verified`)), 20_000);
    expect(storedSession(store.path, device.deviceId, 'shared-1').chain.length).toBe(1);
    await publish(heldBack);
    await acks.until(ids);

    const s = storedSession(store.path, device.deviceId, 'shared-1');
    expect(s.chain.map((r) => r.link)).toEqual(session.chunks.map((c) => c.record.link));
    expect(s.files).toHaveLength(6);
    // Log lines come through a pipe, acks through the broker: wait for the lines before counting them.
    const keys = session.chunks.map((_, i) => `${device.deviceId}/shared-1/${i}`);
    await waitFor('an "evidence stored" line for every chunk', () => keys.every((k) => storedLines(k) > 0), 10_000);
    for (const k of keys) expect(storedLines(k), `${k} stored once`).toBe(1);
    // The shared subscription did spread the work: both workers spooled parts, and some chunk had parts at both.
    const [by1, by2] = workers.map((w) => spooledBy(w));
    expect(by1.size).toBeGreaterThan(0);
    expect(by2.size).toBeGreaterThan(0);
    expect([...by1].filter((k) => by2.has(k)).length).toBeGreaterThan(0);
    expect(spoolEntries('shared-1')).toEqual([]);

    // The device did not hear the ack and resends chunk 2 whole: acknowledged again, stored still once, nothing left in the spool.
    for (const m of messagesOf(session.chunks[2])) await publish(m);
    await acks.until([ids[2]], 2);
    expect(storedLines(`${device.deviceId}/shared-1/2`)).toBe(1);
    expect(spoolEntries('shared-1')).toEqual([]);

    const manifestId = 'shared-1-manifest';
    await publish({ sub: 'manifest', payload: Buffer.from(JSON.stringify({ v: 1, id: manifestId, deviceId: device.deviceId, bootId: 'boot-1', seq: 99, ts: Date.now(), manifest: session.manifest() })) });
    await acks.until([manifestId]);
    const r = await runVerify(store.path);
    expect(r.output).toContain(`${device.deviceId}/shared-1: 6 chunks, manifest — OK`);
    expect(r.code, r.output).toBe(0);
  });

  it('completes a chunk from the spool after the worker holding part of it is killed and restarted', async () => {
    const [w1] = workers;
    const session = new SimEvidenceSession(device, 'killed-1', Date.now());
    const chunk = session.add(Buffer.alloc(9 * PART + 100, 0x5a)); // 10 parts
    const key = `${device.deviceId}/killed-1/0`;
    const msgs = messagesOf(chunk);
    const [early, late] = [msgs.slice(0, 7), msgs.slice(7)]; // header and parts 0-5 | parts 6-8
    for (const m of early) await publish(m);
    // Both workers have spooled their share: the header and six parts are on disk, some of them written by w1.
    await waitFor('header and 6 parts spooled', () => spoolEntries('killed-1').includes('0') && readdirSync(join(spoolDir('killed-1'), '0')).length === 7, 20_000);
    // Its log line can reach us after the file is on disk (a pipe away): wait for it.
    await waitFor('w1 to say it spooled part of the chunk', () => spooledBy(w1, w1.runStart).has(key) || undefined, 10_000);
    await w1.stop('SIGKILL');

    for (const m of late) await publish(m); // some go to w2, some wait in w1's persistent session
    await w1.start();
    await acks.until([chunk.header(PART).id]);
    // Mosquitto 2.0 keeps routing the group's messages to a member's offline persistent session: the restarted w1 got its share of the rest.
    await waitFor('the restarted worker to say it received queued parts of the chunk', () => spooledBy(w1, w1.runStart).has(key) || undefined, 10_000);
    await waitFor('its "evidence stored" line', () => storedLines(key) > 0, 10_000);
    expect(storedLines(key)).toBe(1);
    expect(storedSession(store.path, device.deviceId, 'killed-1').chain.map((r) => r.link)).toEqual([chunk.record.link]);
    expect(spoolEntries('killed-1')).toEqual([]);
  });
});
