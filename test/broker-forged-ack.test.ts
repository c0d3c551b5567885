// Acknowledgements come only from the platform, on the embedded broker that
// `npm run sim` runs (aedes), with the real agent recording evidence.
//
// The platform has a wrong public key registered for the device, so the
// ingest rejects every chunk and never acknowledges one: the chunks stay in
// the agent's upload queue and on its disk. Then clients that are not the
// platform try to acknowledge them on the device's cmd/ack: a client without a
// login that calls itself nrec-ingest-… (what the broker used to trust), a
// device login asking for a platform-looking client id or for the target's
// own client id (a takeover), and another device with its own valid login. The
// impostors cannot connect; the other device's ack is acknowledged by the
// broker and dropped. At the far end: after a genuine acknowledgement of one
// chunk, published by the platform with the same payload shape, has been acted
// on (that chunk gone from the queue and the disk), every other chunk is still
// queued and on disk, and the other device, subscribed to the target's cmd/,
// received nothing.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { inboundFilter, inboundTopic } from '../protocol/index.js';
import { makeSimDevice } from '../simulator/camera/index.js';
import type { BrokerLogin } from '../simulator/world.js';
import { Cleanup, World, makeTempDir, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'error' });

interface Queued {
  msg_id: string;
  path: string;
}

function queued(dbPath: string): Queued[] {
  if (!existsSync(dbPath)) return [];
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], Queued>('SELECT msg_id, path FROM chunks ORDER BY id').all();
  } finally {
    db.close();
  }
}

describe('forged acknowledgements on the embedded broker', () => {
  const cleanup = new Cleanup();
  let world: World;

  /** One connection attempt, no reconnects; the CONNACK refusal code when refused. */
  async function attempt(login: Partial<BrokerLogin>, clientId: string): Promise<MqttClient | number> {
    try {
      const c = await mqtt.connectAsync(world.brokerUrl, { ...login, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 }, false);
      return cleanup.add(c, (x) => x.endAsync(true));
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  }

  beforeAll(async () => {
    const workDir = cleanup.add(await makeTempDir('nrec-forged-ack-'), (d) => d.remove());
    world = cleanup.add(await World.create({ logger, workDir: workDir.path, media: true }), (w) => w.close());
    // Before the first chunk: the ingest reads keys on a miss, so it will verify with this wrong key and never acknowledge.
    await writeFile(join(world.storeDir, 'keys', `${world.deviceId}.pem`), makeSimDevice('someone-else').publicKeyPem);
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
  }, 60_000);
  afterAll(() => cleanup.run());

  it('lets no client but the platform acknowledge evidence: nothing is deleted until the platform says so', async () => {
    const dbPath = join(String(world.agentConfig.dataDir), 'uploads.db');
    await world.pressSos();
    const chunks = await waitFor('3 chunks queued for upload', () => {
      const q = queued(dbPath);
      return q.length >= 3 ? q : undefined;
    }, 60_000, 200);
    await waitFor('the ingest rejecting them (wrong key): nothing is acknowledged', () => world.ingest.stats.rejectReasons.evidence, 60_000, 200);
    const ids = chunks.map((c) => c.msg_id);
    const ack = (acked: string[]) => JSON.stringify({ v: 1, id: `forged-${acked.length}`, deviceId: world.deviceId, bootId: 'forgedboot', seq: 0, ts: Date.now(), acked });
    const ackTopic = inboundTopic(world.deviceId, 'ack');

    const other = await world.provisionDeviceLogin('other-dev');
    const results: Array<number | string> = [];
    for (const [login, clientId] of [[{}, 'nrec-ingest-forger'], [other, 'nrec-ingest-other'], [other, world.deviceId], [other, 'other-dev']] as const) {
      const c = await attempt(login, clientId);
      if (typeof c === 'number') {
        results.push(c);
        continue;
      }
      // A refused publish must be acknowledged (not answered by closing the connection, which makes a device flap).
      const closed = new Promise<string>((r) => c.once('close', () => r('closed')));
      results.push(await Promise.race([c.publishAsync(ackTopic, ack(ids), { qos: 1 }).then(() => 'published'), closed]));
    }

    // The other device also listens on the target's commands: it must hear nothing.
    const spy = await attempt(other, 'other-dev');
    expect(typeof spy).not.toBe('number');
    const heard: string[] = [];
    (spy as MqttClient).on('message', (t) => heard.push(t));
    await (spy as MqttClient).subscribeAsync(inboundFilter(world.deviceId), { qos: 1 }).catch(() => undefined);

    // The genuine acknowledgement of the first chunk, same payload shape, from the platform's login.
    const platform = await attempt(world.platformLogin!, 'nrec-ingest-test');
    expect(typeof platform).not.toBe('number');
    await (platform as MqttClient).publishAsync(ackTopic, ack([ids[0]]), { qos: 1 });
    await waitFor('the acknowledged chunk deleted', () => !queued(dbPath).some((q) => q.msg_id === ids[0]) && !existsSync(chunks[0].path), 30_000, 100);

    // The forged acks went in first: had any reached the agent, it would have acted on it already.
    const left = new Set(queued(dbPath).map((q) => q.msg_id));
    for (const c of chunks.slice(1)) {
      expect(left.has(c.msg_id), `chunk ${c.msg_id} still queued`).toBe(true);
      expect(existsSync(c.path), `${c.path} still on disk`).toBe(true);
    }
    expect(heard).toEqual([]);
    // Bad login; a client id not the device's own (twice); accepted, then acknowledged and dropped.
    expect(results).toEqual([4, 2, 2, 'published']);
  }, 120_000);
});
