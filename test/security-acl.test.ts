import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_STREAMS } from '../protocol/topics.js';
import { makeTestPki, shareWithBroker, type TestPki } from './support/certs.js';
import { Cleanup } from './support/cleanup.js';
import { Mosquitto } from './support/mosquitto.js';
import { makeTempDir } from './support/temp.js';
import { requireTool } from './support/tools.js';

const SCRIPTS = fileURLToPath(new URL('../scripts/mosquitto/', import.meta.url));
const INGEST = 'ingest.nrec';

/** Replaces every @NAME@ placeholder; fails if one is left, so template and test cannot drift apart silently. */
function render(template: string, values: Record<string, string>): string {
  let out = template;
  for (const [k, v] of Object.entries(values)) out = out.replaceAll(`@${k}@`, v);
  const left = out.split('\n').filter((l) => !l.startsWith('#')).join('\n').match(/@[A-Z_]+@/g);
  if (left !== null) throw new Error(`template placeholders not filled: ${left.join(', ')}`);
  return out;
}

const cleanup = new Cleanup();
let pki: TestPki;
let broker: Mosquitto;
let aclText: string;

beforeAll(async () => {
  pki = cleanup.add(await makeTestPki(['dev-a', 'dev-b', INGEST]), (p) => p.remove());
  aclText = render(await readFile(`${SCRIPTS}acl.template`, 'utf8'), { INGEST_USER: INGEST });
  const aclFile = pki.dir.file('acl');
  await writeFile(aclFile, aclText);
  await shareWithBroker(pki.dir.path, [pki.server.key, aclFile]);
  const conf = render(await readFile(`${SCRIPTS}mosquitto-tls.conf.template`, 'utf8'), {
    PORT: '{port}', BIND_ADDRESS: '127.0.0.1', CA_FILE: pki.ca, CERT_FILE: pki.server.cert, KEY_FILE: pki.server.key, ACL_FILE: aclFile,
  });
  broker = cleanup.add(await Mosquitto.start({ listenerConfig: conf }), (m) => m.dispose());
});
afterAll(() => cleanup.run());

/** Connects over mTLS as `name` (no certificate when undefined); never retries, so a refusal rejects. */
async function client(name: string | undefined, protocolVersion: 4 | 5, clientId: string): Promise<MqttClient> {
  const opts: IClientOptions = { ...(await pki.tlsFor(name)), protocolVersion, clientId, reconnectPeriod: 0, connectTimeout: 5000 };
  const c = await connectAsync(`mqtts://127.0.0.1:${broker.port}`, opts, false);
  cleanup.add(c, (x) => x.endAsync(true));
  return c;
}

/** Records what a client receives and resolves when a given topic arrives. */
function inbox(c: MqttClient) {
  const got: Array<{ topic: string; payload: string }> = [];
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
    start(): void {
      c.on('message', (topic, p) => got.push({ topic, payload: p.toString() }));
    },
  };
}

describe('broker security: mTLS + ACL from scripts/mosquitto templates', () => {
  it('lets a device publish under its own prefix and nowhere else (MQTT 5: PUBACK 135; 3.1.1: silently dropped)', async () => {
    const ingest = await client(INGEST, 5, 'ingest-1');
    const seen = inbox(ingest);
    seen.start();
    await ingest.subscribeAsync('nrec/v1/+/#', { qos: 1 });

    const a5 = await client('dev-a', 5, 'dev-a-v5');
    const allowed = seen.next('nrec/v1/dev-a/location', 'own');
    await a5.publishAsync('nrec/v1/dev-a/location', 'own', { qos: 1 });
    await allowed;

    await expect(a5.publishAsync('nrec/v1/dev-b/location', 'forged', { qos: 1 })).rejects.toMatchObject({ code: 135 });
    await expect(a5.publishAsync('nrec/v1/dev-a/cmd/req', 'self-command', { qos: 1 })).rejects.toMatchObject({ code: 135 });

    const a4 = await client('dev-a', 4, 'dev-a-v4');
    await a4.publishAsync('nrec/v1/dev-b/alarm', 'forged-311', { qos: 1 }); // 3.1.1 has no way to say no
    // Barrier: the broker handles one connection's packets in order, so once this arrives the forged one would have.
    const barrier = seen.next('nrec/v1/dev-a/media/part', 'barrier');
    await a4.publishAsync('nrec/v1/dev-a/media/part', 'barrier', { qos: 1 });
    await barrier;
    expect(seen.got.map((m) => m.topic)).toEqual(['nrec/v1/dev-a/location', 'nrec/v1/dev-a/media/part']);
  });

  it('lets a device read only its own commands', async () => {
    const ingest = await client(INGEST, 5, 'ingest-2');
    const a = await client('dev-a', 5, 'dev-a-sub');
    const got = inbox(a);
    got.start();
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

  it('does not let the ingest publish as a device', async () => {
    const ingest = await client(INGEST, 5, 'ingest-3');
    await expect(ingest.publishAsync('nrec/v1/dev-a/alarm', 'forged', { qos: 1 })).rejects.toMatchObject({ code: 135 });
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
    await expect(client(undefined, 5, 'anon')).rejects.toThrow();
    const other = cleanup.add(await makeTestPki(['dev-a']), (p) => p.remove());
    const opts: IClientOptions = { ...(await other.tlsFor('dev-a')), ca: await readFile(pki.ca), protocolVersion: 5, clientId: 'impostor', reconnectPeriod: 0 };
    await expect(connectAsync(`mqtts://127.0.0.1:${broker.port}`, opts, false)).rejects.toThrow();
  });

  it('grants writes for exactly the device streams of protocol/topics.ts', () => {
    const streams = [...aclText.matchAll(/^pattern write nrec\/v1\/%u\/([A-Za-z0-9_-]+)\/#$/gm)].map((m) => m[1]);
    expect(streams.sort()).toEqual([...DEVICE_STREAMS].sort());
  });
});

describe('scripts/mosquitto/gen-certs.sh', () => {
  it('makes a CA, a broker certificate for 127.0.0.1/localhost and client certificates, keys 0600', async () => {
    const openssl = requireTool('openssl', ['/usr/bin/openssl']);
    const dir = cleanup.add(await makeTempDir('nrec-gencerts-'), (d) => d.remove());
    const r = spawnSync('sh', [`${SCRIPTS}gen-certs.sh`, dir.path, 'dev-x', INGEST], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const key of ['ca.key', 'server.key', 'dev-x.key', `${INGEST}.key`]) {
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
