// Liveness at start-up (docs/liveness.md): every fatal start-up problem either
// ends the process with a non-zero exit naming the cause, or is retried and
// reported once, with its cause, at warn; asserted here through real
// processes (the agent and the ingest as `node dist/cli.js ...`) against a
// real Mosquitto with mutual TLS and the ACL from scripts/mosquitto.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from './support/certs.js';
import { startSecureBroker, type SecureBroker } from './support/secure-broker.js';
import { AgentProcess, Cleanup, cliPath, freePort, makeTempDir, Mosquitto, waitFor } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const quiet = { gps: { enabled: false }, button: { enabled: false } };

async function agentWith(config: Record<string, unknown>): Promise<AgentProcess> {
  const dir = cleanup.add(await makeTempDir('nrec-live-'), (d) => d.remove());
  const agent = await AgentProcess.start({ deviceId: 'rec-1', dataDir: dir.file('data'), ...quiet, ...config }, dir.path);
  cleanup.add(agent, (a) => a.stop('SIGKILL'));
  return agent;
}

/** Warn lines (pino level 40) of a log. */
const warns = (lines: string[]) => lines.filter((l) => l.startsWith('{') && (JSON.parse(l) as { level: number }).level === 40);

describe('agent start-up errors that end the process', () => {
  it('a broker URL that is not one: exit 2 naming /mqtt/url (it used to stay up with no transport)', async () => {
    const agent = await agentWith({ mqtt: { url: 'not a url' } });
    expect(await agent.exited()).toBe(2);
    expect(agent.lines.join('\n')).toMatch(/invalid configuration: .*\/mqtt\/url: "not a url" is not a URL/);
  });

  it('every configuration problem at once, each with its path', async () => {
    const agent = await agentWith({ mqtt: { url: 'http://x', backoffMinMs: 9000, backoffMaxMs: 1000, keyFile: '/nonexistent/key.pem' }, button: { backend: 'sysfs' } });
    expect(await agent.exited()).toBe(2);
    const text = agent.lines.join('\n');
    for (const path of ['/mqtt/url', '/mqtt/backoffMinMs', '/mqtt/certFile', '/mqtt/keyFile', '/button/line']) expect(text).toContain(`${path}: `);
    expect(text).toContain('/nonexistent/key.pem does not exist');
  });

  it('no config file: exit 2 saying so', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-live-'), (d) => d.remove());
    const agent = new AgentProcess(dir.file('missing.json'));
    agent.spawn();
    expect(await agent.exited()).toBe(2);
    expect(agent.lines.join('\n')).toMatch(/missing\.json: \(file\): cannot read the config: no such file/);
  });

  it('a data directory that cannot be made: exit 1 naming it', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-live-'), (d) => d.remove());
    await writeFile(dir.file('a-file'), 'not a directory');
    const agent = await AgentProcess.start({ deviceId: 'rec-1', dataDir: dir.file('a-file/data'), ...quiet }, dir.path);
    cleanup.add(agent, (a) => a.stop('SIGKILL'));
    expect(await agent.exited()).toBe(1);
    expect(agent.lines.join('\n')).toMatch(/cannot start: dataDir .*a-file\/data cannot be created \(ENOTDIR\)/);
  });

  it('TLS files that do not load: exit 1 naming the fields', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-live-'), (d) => d.remove());
    await writeFile(dir.file('junk.pem'), 'not PEM at all\n', { mode: 0o600 });
    const agent = await agentWith({ mqtt: { url: 'mqtts://127.0.0.1:8883', certFile: dir.file('junk.pem'), keyFile: dir.file('junk.pem') } });
    expect(await agent.exited()).toBe(1);
    expect(agent.lines.join('\n')).toMatch(/cannot start: mqtt\.certFile\/keyFile: does not load as TLS material/);
  });
});

describe('broker problems are retried and reported once, with the cause', () => {
  it('a refused connection: one warn line, then the broker comes up and the device is online', async () => {
    const port = await freePort();
    const agent = await agentWith({ logLevel: 'debug', mqtt: { url: `mqtt://127.0.0.1:${port}`, backoffMinMs: 50, backoffMaxMs: 200 } });
    await waitFor('three failed attempts', () => agent.lines.filter((l) => l.includes('still cannot connect')).length >= 3);
    const w = warns(agent.lines);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(`connection refused by 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(w[0]).toContain('is the broker running');
    const broker = cleanup.add(await Mosquitto.start({ port }), (m) => m.dispose());
    const sub = cleanup.add(await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }), (c) => c.endAsync(true));
    const online = new Promise<void>((resolve) => sub.on('message', (_t, p) => { if ((JSON.parse(p.toString()) as { state: string }).state === 'online') resolve(); }));
    await sub.subscribeAsync('nrec/v1/rec-1/status', { qos: 1 });
    await online;
    expect(agent.running).toBe(true);
  });
  it('a broker that refuses anonymous clients: one warn line with the CONNACK code, for MQTT 3.1.1 and 5', async () => {
    const broker = cleanup.add(await Mosquitto.start({ listenerConfig: 'listener {port} 127.0.0.1\nallow_anonymous false' }), (m) => m.dispose());
    for (const [protocolVersion, code] of [[4, 5], [5, 135]] as const) {
      const w = await (async () => {
        const agent = await agentWith({ logLevel: 'debug', mqtt: { url: broker.url, protocolVersion, backoffMinMs: 50, backoffMaxMs: 200 } });
        await waitFor('three repeated failures', () => agent.lines.filter((l) => l.includes('still cannot connect')).length >= 3);
        return warns(agent.lines);
      })();
      expect(w, `MQTT ${protocolVersion}`).toHaveLength(1);
      expect(w[0]).toContain(`broker refused the connection: not authorized (CONNACK code ${code})`);
      expect(w[0]).toContain('check the device is enrolled');
    }
  });
});

describe('TLS and authorisation failures', () => {
  let pki: TestPki;
  let other: TestPki;
  let broker: Mosquitto;
  let secure: SecureBroker;
  beforeAll(async () => {
    // The deployment's templates (scripts/mosquitto/): three listeners, identities from certificates.
    secure = await startSecureBroker(['dev-a']);
    pki = secure.devices;
    broker = secure.mosquitto;
    other = await makeTestPki(['dev-a']);
  });
  afterAll(async () => {
    await secure?.dispose();
    await other?.remove();
  });

  const tlsAgent = (deviceId: string, client: TestPki | undefined, extra: Record<string, unknown> = {}) => agentWith({
    deviceId, logLevel: 'debug',
    mqtt: { url: `mqtts://127.0.0.1:${broker.port}`, caFile: pki.ca, ...(client ? { certFile: client.clients['dev-a'].cert, keyFile: client.clients['dev-a'].key } : {}), backoffMinMs: 50, backoffMaxMs: 200, ...extra },
  });

  /** Waits for several failed attempts, then returns the warn lines: one per state change, not one per attempt. */
  async function warnsAfterRetries(agent: AgentProcess): Promise<string[]> {
    await waitFor('three repeated failures', () => agent.lines.filter((l) => l.includes('still cannot connect')).length >= 3, 30_000);
    return warns(agent.lines);
  }

  it('a client certificate from another CA: one warn line naming the certificate', async () => {
    const w = await warnsAfterRetries(await tlsAgent('dev-a', other));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('cannot connect to the broker: the broker rejected our client certificate (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)');
    expect(w[0]).toMatch(/certFile/);
  });

  it('no client certificate: one warn line saying none was sent', async () => {
    const w = await warnsAfterRetries(await tlsAgent('dev-a', undefined));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('no client certificate was sent (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)');
    expect(w[0]).toMatch(/mqtt\.certFile/);
  });

  it("a broker certificate we cannot verify (no caFile): one warn line naming mqtt.caFile", async () => {
    const w = await warnsAfterRetries(await tlsAgent('dev-a', pki, { caFile: undefined }));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/the broker's certificate is not trusted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    expect(w[0]).toContain('set mqtt.caFile');
  });

  it('a device id that does not match its certificate: one warn line, not authorized', async () => {
    const w = await warnsAfterRetries(await tlsAgent('dev-b', pki));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('broker refused nrec/v1/dev-b/status: not authorized (reason code 135)');
    expect(w[0]).toContain("the deviceId must equal the certificate's CN");
  });

  it('the ingest whose TLS handshake fails exits 1 naming the cause (it used to keep running)', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-live-ingest-'), (d) => d.remove());
    const child = spawn(process.execPath, [cliPath(), 'ingest', '--store', dir.path, '--broker', `mqtts://127.0.0.1:${broker.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.add(child, (c) => c.kill('SIGKILL'));
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(stderr).toMatch(/nrec ingest: cannot run: TLS with mqtts:\/\/127\.0\.0\.1:\d+ failed: .*(self.signed|certificate)/i);
  });
});

describe('ingest start-up', () => {
  it('a broker that is not there yet is waited for: one warning naming the broker, then it connects and subscribes when the broker comes', async () => {
    // Not an exit: an ingest started before its broker (a reboot, a deployment order) must take what
    // devices send as soon as the broker is up (issue 10); credentials and certificates are what end it.
    const dir = cleanup.add(await makeTempDir('nrec-live-ingest-'), (d) => d.remove());
    const port = await freePort();
    const child = spawn(process.execPath, [cliPath(), 'ingest', '--store', dir.path, '--broker', `mqtt://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.add(child, (c) => c.kill('SIGKILL'));
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    await waitFor('the warning', () => stdout.includes('ingest not connected to the broker') || stderr.includes('ingest not connected to the broker') || undefined, 20_000);
    const broker = cleanup.add(await Mosquitto.start({ port }), (m) => m.dispose());
    await waitFor('connected and subscribed', () => stdout.includes('"ready":true') || undefined, 30_000);
    expect(child.exitCode).toBeNull();
    const all = `${stdout}${stderr}`.split('\n').filter((l) => l.includes('ingest not connected to the broker'));
    expect(all, 'warned once per state change, not at every retry').toHaveLength(1);
    expect(all[0]).toContain(`mqtt://127.0.0.1:${port}`);
    expect(all[0]).toContain('ECONNREFUSED');
    void broker;
  });
});
