// The broker security templates of scripts/mosquitto on a real Mosquitto:
// three listeners (device control, device bulk, platform), identity from the
// client certificate, client ids bound to it, topic ACLs. What matters is
// what arrives where, and who stays connected.
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_STREAMS, bulkClientId, deviceTopic, inboundFilter, inboundTopic } from '../protocol/topics.js';
import { makeTestPki, type TestPki } from './support/certs.js';
import { Cleanup } from './support/cleanup.js';
import type { Mosquitto } from './support/mosquitto.js';
import { PLATFORM_CN, SCRIPTS, startSecureBroker, type SecureBroker } from './support/secure-broker.js';
import { makeTempDir } from './support/temp.js';
import { requireTool } from './support/tools.js';

const PLATFORM = PLATFORM_CN;

const cleanup = new Cleanup();
let sb: SecureBroker;
let devices: TestPki;
let platformPki: TestPki;
let broker: Mosquitto;
let aclText: string;

beforeAll(async () => {
  // 'dev-c' has a certificate but no bulk ACL block (not provisioned for uploads).
  sb = cleanup.add(await startSecureBroker(['dev-a', 'dev-b', 'dev-c'], ['dev-a', 'dev-b']), (b) => b.dispose());
  ({ devices, platform: platformPki, mosquitto: broker, aclText } = sb);
});
afterAll(() => cleanup.run());

type Listener = 'control' | 'bulk' | 'platform';

/** Connects over mTLS as `name` (a device certificate, the platform's, or none) to a listener; never retries, so a refusal rejects. */
async function client(name: string | undefined, protocolVersion: 4 | 5, clientId: string, listener: Listener = name === PLATFORM ? 'platform' : 'control'): Promise<MqttClient> {
  const pki = name === PLATFORM ? platformPki : devices;
  // Every listener presents the broker certificate the device CA signed.
  const tls = { ...(await pki.tlsFor(name)), ca: await readFile(devices.ca) };
  const port = listener === 'control' ? broker.port : broker.ports[listener];
  const opts: IClientOptions = { ...tls, protocolVersion, clientId, reconnectPeriod: 0, connectTimeout: 5000 };
  const c = await connectAsync(`mqtts://127.0.0.1:${port}`, opts, false);
  cleanup.add(c, (x) => x.endAsync(true));
  return c;
}

/** Records what a client receives and resolves when a given message arrives. */
function inbox(c: MqttClient) {
  const got: Array<{ topic: string; payload: string }> = [];
  c.on('message', (topic, p) => got.push({ topic, payload: p.toString() }));
  return {
    got,
    next(topic: string, payload: string): Promise<void> {
      return new Promise((resolve) => {
        const check = (t: string, p: Buffer) => {
          if (t !== topic || p.toString() !== payload) return;
          c.off('message', check);
          resolve();
        };
        c.on('message', check);
      });
    },
  };
}

/** Counts 'close' events (a client kicked by a takeover closes). */
function closes(c: MqttClient): () => number {
  let n = 0;
  c.on('close', () => n++);
  return () => n;
}

describe('broker security: control listener (mTLS, CN = username = client id)', () => {
  it('lets a device publish under its own prefix and nowhere else (MQTT 5: PUBACK 135; 3.1.1: silently dropped)', async () => {
    const ingest = await client(PLATFORM, 5, 'ingest-1');
    const seen = inbox(ingest);
    await ingest.subscribeAsync('nrec/v1/+/#', { qos: 1 });

    const a5 = await client('dev-a', 5, 'dev-a');
    const allowed = seen.next('nrec/v1/dev-a/location', 'own');
    await a5.publishAsync('nrec/v1/dev-a/location', 'own', { qos: 1 });
    await allowed;

    await expect(a5.publishAsync('nrec/v1/dev-b/location', 'forged', { qos: 1 })).rejects.toMatchObject({ code: 135 });
    await expect(a5.publishAsync('nrec/v1/dev-a/cmd/req', 'self-command', { qos: 1 })).rejects.toMatchObject({ code: 135 });
    await expect(a5.publishAsync('nrec/v1/dev-b/cmd/ack', 'forged-ack', { qos: 1 })).rejects.toMatchObject({ code: 135 });

    const b = await client('dev-b', 4, 'dev-b');
    const bGot = inbox(b);
    await b.subscribeAsync(inboundFilter('dev-b'), { qos: 1 });
    const a4 = await client('dev-a', 4, 'dev-a-v4');
    await a4.publishAsync('nrec/v1/dev-b/alarm', 'forged-311', { qos: 1 }); // 3.1.1 has no way to say no
    await a4.publishAsync(inboundTopic('dev-b', 'ack'), 'forged-ack-311', { qos: 1 });
    // Barrier: the broker handles one connection's packets in order, so once this arrives the forged one would have.
    const barrier = seen.next('nrec/v1/dev-a/event', 'barrier');
    await a4.publishAsync('nrec/v1/dev-a/event', 'barrier', { qos: 1 });
    await barrier;
    expect(seen.got.map((m) => m.topic)).toEqual(['nrec/v1/dev-a/location', 'nrec/v1/dev-a/event']);
    // The forged acknowledgements (MQTT 5 and 3.1.1) never reached dev-b; the platform's does.
    const real = bGot.next(inboundTopic('dev-b', 'ack'), 'real-ack');
    await ingest.publishAsync(inboundTopic('dev-b', 'ack'), 'real-ack', { qos: 1 });
    await real;
    expect(bGot.got.map((m) => m.payload)).toEqual(['real-ack']);
  });

  it('lets a device read only its own commands', async () => {
    const ingest = await client(PLATFORM, 5, 'ingest-2');
    const a = await client('dev-a', 5, 'dev-a');
    const got = inbox(a);
    const granted = await a.subscribeAsync(['nrec/v1/dev-a/cmd/#', 'nrec/v1/dev-b/cmd/#', 'nrec/v1/dev-b/location']);
    // Mosquitto 2.0.11 grants the SUBACK for any filter and checks read access on every delivery,
    // so what matters is what arrives, not the SUBACK.
    expect(granted[0].qos).toBeLessThan(128);
    await ingest.publishAsync('nrec/v1/dev-b/cmd/req', 'for-b', { qos: 1 });
    const barrier = got.next('nrec/v1/dev-a/cmd/req', 'for-a');
    await ingest.publishAsync('nrec/v1/dev-a/cmd/req', 'for-a', { qos: 1 });
    await barrier;
    expect(got.got).toEqual([{ topic: 'nrec/v1/dev-a/cmd/req', payload: 'for-a' }]);
  });

  it('gives a certificate its own session whatever client id it asks for: device A cannot take over or kick device B', async () => {
    const ingest = await client(PLATFORM, 5, 'ingest-3');
    const seen = inbox(ingest);
    await ingest.subscribeAsync('nrec/v1/+/#', { qos: 1 });
    const b = await client('dev-b', 5, 'dev-b');
    const bCloses = closes(b);
    const bGot = inbox(b);
    await b.subscribeAsync(inboundFilter('dev-b'), { qos: 1 });

    // A asks for B's control id on the control listener, and for B's ids on the bulk listener.
    for (const [listener, id] of [['control', 'dev-b'], ['bulk', 'dev-b'], ['bulk', 'CN=dev-b'], ['bulk', bulkClientId('dev-b')]] as const) {
      const impostor = await client('dev-a', 5, id, listener);
      // Forced to its own identity: what it publishes under B goes nowhere.
      await expect(impostor.publishAsync(deviceTopic('dev-b', listener === 'bulk' ? 'media' : 'alarm', listener === 'bulk' ? 'part' : undefined), 'as-b', { qos: 1 })).rejects.toMatchObject({ code: 135 });
      await impostor.endAsync();
    }
    // B still holds its session: its command arrives, and it was never disconnected.
    const cmd = bGot.next(inboundTopic('dev-b', 'req'), 'still-b');
    await ingest.publishAsync(inboundTopic('dev-b', 'req'), 'still-b', { qos: 1 });
    await cmd;
    expect(bCloses()).toBe(0);
    expect(b.connected).toBe(true);
    expect(seen.got.filter((m) => m.payload === 'as-b')).toEqual([]);
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
    await expect(client(undefined, 5, 'anon')).rejects.toThrow();
    const other = cleanup.add(await makeTestPki(['dev-a']), (p) => p.remove());
    const opts: IClientOptions = { ...(await other.tlsFor('dev-a')), ca: await readFile(devices.ca), protocolVersion: 5, clientId: 'impostor', reconnectPeriod: 0 };
    await expect(connectAsync(`mqtts://127.0.0.1:${broker.port}`, opts, false)).rejects.toThrow();
  });

  it('grants writes for exactly the device streams of protocol/topics.ts', () => {
    const streams = [...aclText.matchAll(/^pattern write nrec\/v1\/%u\/([A-Za-z0-9_-]+)\/#$/gm)].map((m) => m[1]);
    expect(streams.sort()).toEqual([...DEVICE_STREAMS].sort());
  });
});

describe('broker security: bulk listener (client id = certificate subject)', () => {
  it('carries a device\'s media headers and parts, alongside its control connection, and nothing else', async () => {
    const ingest = await client(PLATFORM, 5, 'ingest-4');
    const seen = inbox(ingest);
    await ingest.subscribeAsync('nrec/v1/+/#', { qos: 1 });
    const control = await client('dev-a', 5, 'dev-a');
    const controlCloses = closes(control);
    const bulk = await client('dev-a', 5, bulkClientId('dev-a'), 'bulk');
    const bulkGot = inbox(bulk);
    await bulk.subscribeAsync(inboundFilter('dev-a'), { qos: 1 });

    const header = seen.next(deviceTopic('dev-a', 'media', 'chunk'), 'header');
    await bulk.publishAsync(deviceTopic('dev-a', 'media', 'chunk'), 'header', { qos: 1 });
    await header;
    const part = seen.next(deviceTopic('dev-a', 'media', 'part'), 'part');
    await bulk.publishAsync(deviceTopic('dev-a', 'media', 'part'), 'part', { qos: 1 });
    await part;
    for (const topic of [deviceTopic('dev-a', 'alarm'), deviceTopic('dev-a', 'media', 'manifest'), deviceTopic('dev-b', 'media', 'part'), inboundTopic('dev-a', 'ack')]) {
      await expect(bulk.publishAsync(topic, 'not-on-bulk', { qos: 1 }), topic).rejects.toMatchObject({ code: 135 });
    }
    // Commands go to the control connection only.
    const cmd = inbox(control).next(inboundTopic('dev-a', 'req'), 'cmd');
    await control.subscribeAsync(inboundFilter('dev-a'), { qos: 1 });
    await ingest.publishAsync(inboundTopic('dev-a', 'req'), 'cmd', { qos: 1 });
    await cmd;
    expect(bulkGot.got).toEqual([]);
    expect(seen.got.filter((m) => m.payload === 'not-on-bulk')).toEqual([]);
    // The device's two connections did not take each other's session.
    expect(controlCloses()).toBe(0);
    expect(control.connected && bulk.connected).toBe(true);
  });

  it('lets no device upload whose certificate has no bulk ACL block', async () => {
    const bulk = await client('dev-c', 5, bulkClientId('dev-c'), 'bulk');
    await expect(bulk.publishAsync(deviceTopic('dev-c', 'media', 'part'), 'x', { qos: 1 })).rejects.toMatchObject({ code: 135 });
  });

  it('bulk-acl.sh refuses a certificate whose CN is not a deviceId', () => {
    const r = spawnSync('sh', [`${SCRIPTS}bulk-acl.sh`, platformPki.clients[PLATFORM].cert], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a deviceId/);
  });
});

describe('broker security: platform listener (its own CA)', () => {
  it('serves several platform workers with their own client ids; the platform commands devices but cannot publish as one', async () => {
    const w1 = await client(PLATFORM, 5, 'nrec-ingest-w1');
    const w2 = await client(PLATFORM, 5, 'nrec-ingest-w2');
    const w1Closes = closes(w1);
    const seen = inbox(w2);
    await w2.subscribeAsync('nrec/v1/+/#', { qos: 1 });
    await expect(w1.publishAsync('nrec/v1/dev-a/alarm', 'forged', { qos: 1 })).rejects.toMatchObject({ code: 135 });
    const cmd = seen.next(inboundTopic('dev-a', 'req'), 'from-w1');
    await w1.publishAsync(inboundTopic('dev-a', 'req'), 'from-w1', { qos: 1 });
    await cmd;
    expect(seen.got.map((m) => m.payload)).toEqual(['from-w1']);
    expect(w1Closes()).toBe(0);
  });

  it('refuses device certificates, so no device can choose a client id there', async () => {
    await expect(client('dev-a', 5, 'dev-b', 'platform')).rejects.toThrow();
  });
});

describe('scripts/mosquitto/gen-certs.sh', () => {
  it('makes a CA, a broker certificate for 127.0.0.1/localhost and client certificates, keys 0600', async () => {
    const openssl = requireTool('openssl', ['/usr/bin/openssl']);
    const dir = cleanup.add(await makeTempDir('nrec-gencerts-'), (d) => d.remove());
    const r = spawnSync('sh', [`${SCRIPTS}gen-certs.sh`, dir.path, 'dev-x', PLATFORM], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const key of ['ca.key', 'server.key', 'dev-x.key', `${PLATFORM}.key`]) {
      expect((await stat(dir.file(key))).mode & 0o777, key).toBe(0o600);
    }
    const verify = spawnSync(openssl, ['verify', '-CAfile', dir.file('ca.crt'), dir.file('server.crt'), dir.file('dev-x.crt')], { encoding: 'utf8' });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    const subject = spawnSync(openssl, ['x509', '-in', dir.file('dev-x.crt'), '-noout', '-subject', '-ext', 'extendedKeyUsage'], { encoding: 'utf8' });
    expect(subject.stdout).toMatch(/CN ?= ?dev-x/);
    expect(subject.stdout).toMatch(/TLS Web Client Authentication/);
    const san = spawnSync(openssl, ['x509', '-in', dir.file('server.crt'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
    expect(san.stdout).toMatch(/IP Address:127\.0\.0\.1/);
    expect(san.stdout).toMatch(/DNS:localhost/);
    const bad = spawnSync('sh', [`${SCRIPTS}gen-certs.sh`, dir.path, 'dev/../x'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not usable/);
  });
});
