import { startSecureBroker } from './support/secure-broker.js';
import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpsFeed } from '../simulator/gps/gps-feed.js';
import type { TestPki } from './support/certs.js';
import { Cleanup, cliPath, createPtyPair, freePort, makeTempDir, Mosquitto, requireTool, SysfsGpioTree, type PtyPair, type TempDir } from './support/index.js';

// nrec doctor against the simulator's hardware stand-ins (a pty GPS talking NMEA, a sysfs GPIO tree with the
// button at rest, a thermal zone) and a real Mosquitto with mutual TLS and the nrec ACL: all pass; then one
// fault at a time, each named with its fix and a non-zero exit.
const DEVICE = 'doc-001';

function nrec(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cliPath(), ...args], { timeout: 60_000 }, (_err, stdout) => resolve({ code: child.exitCode, stdout }));
  });
}

interface Report { ok: boolean; checks: Array<{ name: string; status: string; summary: string; fix?: string }> }

describe('nrec doctor', () => {
  const cleanup = new Cleanup();
  let dir: TempDir;
  let pki: TestPki;
  let broker: Mosquitto;
  let gps: PtyPair;
  let base: Record<string, unknown>;

  const doctor = async (config: unknown, nmeaWaitS = 5): Promise<{ code: number | null; report: Report; text: string }> => {
    const path = join(dir.path, `config-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config));
    // Asynchronously: the stand-ins (GPS feed, GPIO tree) run on this process's event loop.
    const j = await nrec(['doctor', '--config', path, '--json', '--nmea-wait', String(nmeaWaitS)]);
    const t = await nrec(['doctor', '--config', path, '--nmea-wait', '1']);
    expect(t.code).toBe(j.code);
    return { code: j.code, report: JSON.parse(j.stdout) as Report, text: t.stdout };
  };
  const check = (r: Report, name: string) => {
    const c = r.checks.find((x) => x.name === name);
    expect(c, `check ${name} in ${JSON.stringify(r.checks.map((x) => x.name))}`).toBeDefined();
    return c!;
  };

  beforeAll(async () => {
    requireTool('openssl', ['/usr/bin/openssl']);
    requireTool('ffmpeg');
    dir = cleanup.add(await makeTempDir('nrec-doctor-'), (d) => d.remove());
    // Valid 90 days: the doctor warns about a client certificate that expires within 30.
    // The deployment's own templates: three listeners, per-listener ACLs (scripts/mosquitto/).
    const secure = cleanup.add(await startSecureBroker([DEVICE, 'other-002'], [DEVICE, 'other-002'], { days: 90 }), (b) => b.dispose());
    pki = secure.devices;
    broker = secure.mosquitto;
    gps = cleanup.add(await createPtyPair(dir.file('gps-tty')), (g) => g.close());
    const feed = cleanup.add(new GpsFeed(gps.writer, { intervalMs: 250 }), (f) => f.stop());
    feed.start();
    const gpio = cleanup.add(new SysfsGpioTree({ root: dir.file('sys-class-gpio') }), (g) => g.close());
    const thermal = dir.file('thermal');
    await mkdir(join(thermal, 'thermal_zone0'), { recursive: true });
    await writeFile(join(thermal, 'thermal_zone0', 'type'), 'cpu-thermal\n');
    await writeFile(join(thermal, 'thermal_zone0', 'temp'), '47500\n');
    await writeFile(dir.file('synchronized'), '');
    const dataDir = dir.file('data');
    const prov = spawnSync(process.execPath, [cliPath(), 'provision', '--device-id', DEVICE, '--out', join(dataDir, 'keys')], { encoding: 'utf8' });
    expect(prov.status, prov.stderr).toBe(0);
    base = {
      deviceId: DEVICE,
      dataDir,
      mqtt: { url: `mqtts://127.0.0.1:${broker.port}`, caFile: pki.ca, certFile: pki.clients[DEVICE].cert, keyFile: pki.clients[DEVICE].key },
      gps: { path: gps.devicePath, baudRate: 9600 },
      button: { backend: 'sysfs', sysfsRoot: gpio.root, chip: 'gpiochip0', line: 17 },
      health: { clockSyncFile: dir.file('synchronized'), thermalRoot: thermal },
      media: { enabled: true, profile: 'sim' },
    };
  }, 60_000);
  afterAll(() => cleanup.run());

  it('passes every check against the stand-ins', async () => {
    const { code, report, text } = await doctor(base);
    const bad = report.checks.filter((c) => c.status === 'fail' || c.status === 'warn');
    expect(bad).toEqual([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    for (const n of ['config', 'gps.tty', 'gps.nmea', 'gps.fix', 'button.line', 'ffmpeg', 'ffprobe', 'ffmpeg.encoder', 'tls.certificate', 'broker', 'broker.authorised', 'clock', 'disk.space', 'disk.latency', 'temperature', 'keys.modes', 'keys.device', 'outbox']) {
      expect(check(report, n).status, n).toBe('pass');
    }
    expect(check(report, 'button.line').summary).toContain('backend sysfs');
    expect(text).toContain('[✓] gps.nmea');
    expect(text).toContain('No problems found');
  });

  it('names a missing GPS tty with its fix', async () => {
    const { code, report, text } = await doctor({ ...base, gps: { path: dir.file('no-such-tty') } }, 1);
    expect(code).toBe(1);
    const c = check(report, 'gps.tty');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('does not exist');
    expect(c.fix).toContain('wiring');
    expect(text).toContain('[✗] gps.tty');
    expect(text).toContain('fix: check the wiring');
  });

  it('names a broker that is down', async () => {
    const port = await freePort();
    const { code, report } = await doctor({ ...base, mqtt: { ...(base.mqtt as object), url: `mqtts://127.0.0.1:${port}` } }, 1);
    expect(code).toBe(1);
    const c = check(report, 'broker');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('refused the connection');
    expect(c.fix).toContain('mqtt.url');
  });

  it('names a private key at 0644', async () => {
    const key = join(dir.path, 'open.key');
    await writeFile(key, await readFile(pki.clients[DEVICE].key));
    await chmod(key, 0o644);
    const { code, report } = await doctor({ ...base, mqtt: { ...(base.mqtt as object), keyFile: key } }, 1);
    expect(code).toBe(1);
    const c = check(report, 'keys.modes');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('0644');
    expect(c.fix).toContain(`chmod 600 ${key}`);
  });

  it('names a certificate issued for another device', async () => {
    const { code, report } = await doctor({ ...base, mqtt: { ...(base.mqtt as object), certFile: pki.clients['other-002'].cert, keyFile: pki.clients['other-002'].key } }, 1);
    expect(code).toBe(1);
    const cert = check(report, 'tls.certificate');
    expect(cert.status).toBe('fail');
    expect(cert.summary).toContain('is for "other-002"');
    expect(cert.fix).toContain(DEVICE);
    // The broker says the same: connected, but not authorised for this device's topics.
    const auth = check(report, 'broker.authorised');
    expect(auth.status).toBe('fail');
    expect(auth.fix).toContain('CN');
  });

  it('names a bad config and its field', async () => {
    const { code, report } = await doctor({ ...base, gps: { path: gps.devicePath, baudRate: 'fast' } }, 1);
    expect(code).toBe(1);
    const c = check(report, 'config');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('/gps/baudRate');
    expect(c.fix).toContain('docs/configuration.md');
    const broken = await doctor('{"deviceId": "doc-001",', 1);
    expect(broken.code).toBe(1);
    expect(check(broken.report, 'config').summary).toContain('not valid JSON');
  });
});
