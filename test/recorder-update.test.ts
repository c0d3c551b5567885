import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Ingest, readStream } from '../platform/ingest/index.js';
import { GpsFeed } from '../simulator/gps/gps-feed.js';
import { makeTestPki, type TestPki } from './support/certs.js';
import { Cleanup, createPtyPair, makeTempDir, Mosquitto, nextStored, SysfsGpioTree, waitFor, type TempDir } from './support/index.js';
import { makeBundle, makeInstallRoot, makeReleaseKey, runInstall } from './support/recorder.js';

// Updates of an installed recorder (install.sh into a temp root), with the agent kept running by a stand-in
// for systemd, a real Mosquitto, the ingest, a pty GPS and a sysfs button. A good bundle becomes current and is
// committed once the new release reports itself healthy; a release that never does is rolled back by itself
// within the deadline and the failure reaches the platform; bad signatures and hashes change nothing. An alarm
// queued in the outbox while the broker is down reaches the platform after each update.
const logger = createLogger('test', { level: 'warn' });
const DEVICE = 'upd-001';
const here = new URL('.', import.meta.url).pathname;

interface Alarm { id: string; bootId: string; alarmId?: string; type?: string }
interface Event { id: string; kind: string; message: string; data?: Record<string, unknown> }
interface State { id: string; phase: string; release: string; previous?: string; startedAt: number; finishedAt?: number; reason?: string; requestId?: string }

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(cmd, args, { timeout: 240_000 }, (_e, stdout, stderr) => resolve({ code: c.exitCode, stdout, stderr }));
  });
}

describe('update with rollback', () => {
  const cleanup = new Cleanup();
  let work: TempDir;
  let root: TempDir;
  let pki: TestPki;
  let broker: Mosquitto;
  let ingest: Ingest;
  let gpio: SysfsGpioTree;
  let service: ChildProcess;
  let https: Server;
  let bundles: Record<string, { file: string; sha256: string }>;
  let key: { privateKey: string; publicKey: string };
  const lines: string[] = [];
  const R = () => root.path;
  const stateFile = () => join(R(), 'var/lib/nrec/update/state.json');
  const readState = async () => JSON.parse(await readFile(stateFile(), 'utf8')) as State;
  const current = () => readlink(join(R(), 'opt/nrec/current'));
  const installed = (rel: string) => join(R(), 'opt/nrec/releases', rel, 'bin/nrec');
  const restartCmd = () => `kill -HUP ${service.pid}`;
  const waitLine = (text: string, from: number, ms = 60_000) => waitFor(`agent line "${text}"`, () => lines.slice(from).some((l) => l.includes(text)) || undefined, ms, 50);
  const events = (kind: string) => readStream<Event>(join(work.path, 'store'), DEVICE, 'event').map((l) => l.m).filter((e) => e.kind === kind);

  beforeAll(async () => {
    work = cleanup.add(await makeTempDir('nrec-update-'), (d) => d.remove());
    root = cleanup.add(await makeInstallRoot(), (d) => d.remove());
    key = await makeReleaseKey(work.path);
    const out = join(work.path, 'bundles');
    bundles = {
      good1: await makeBundle(key.privateKey, out, '1.0.0'),
      good2: await makeBundle(key.privateKey, out, '1.1.0'),
      // Starts and then does nothing: never connects, never reports itself healthy (a hung release).
      hung: await makeBundle(key.privateKey, out, '1.2.0', async (tree) => writeFile(join(tree, 'dist', 'cli.js'), 'setInterval(() => {}, 1 << 30);\n')),
      foreign: await makeBundle((await makeReleaseKey(work.path, 'other')).privateKey, join(out, 'foreign'), '1.3.0'),
    };
    const inst = runInstall(['--root', R(), bundles.good1.file]);
    expect(inst.status, inst.stderr).toBe(0);

    pki = cleanup.add(await makeTestPki([], { days: 30 }), (p) => p.remove());
    https = createServer({ key: await readFile(pki.server.key), cert: await readFile(pki.server.cert) }, (req, res) => {
      const name = (req.url ?? '').slice(1);
      const b = Object.values(bundles).find((x) => x.file.endsWith(`/${name}`));
      if (b === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/gzip' });
      void readFile(b.file).then((data) => res.end(data));
    });
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    cleanup.add(https, (s) => new Promise<void>((r) => s.close(() => r())));

    broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    ingest = cleanup.add(await Ingest.open({ brokerUrl: broker.url, storeDir: join(work.path, 'store'), logger }), (i) => i.stop());
    await ingest.start();
    const gps = cleanup.add(await createPtyPair(join(work.path, 'gps-tty')), (g) => g.close());
    const feed = cleanup.add(new GpsFeed(gps.writer, { intervalMs: 500 }), (f) => f.stop());
    feed.start();
    gpio = cleanup.add(new SysfsGpioTree({ root: join(work.path, 'sys-class-gpio') }), (g) => g.close());
    await writeFile(join(work.path, 'synchronized'), '');
    const config = {
      deviceId: DEVICE,
      dataDir: join(R(), 'var/lib/nrec'),
      mqtt: { url: broker.url, backoffMinMs: 200, backoffMaxMs: 1000 },
      gps: { path: gps.devicePath, baudRate: 9600, intervalS: 2 },
      button: { backend: 'sysfs', sysfsRoot: gpio.root, chip: 'gpiochip0', line: 17, resendS: 5 },
      health: { clockSyncFile: join(work.path, 'synchronized') },
      update: { publicKeyFile: join(R(), 'etc/nrec/release-key.pem'), caFile: pki.ca },
    };
    await writeFile(join(R(), 'etc/nrec/config.json'), JSON.stringify(config, null, 2));

    // systemd's part: ExecStart=/opt/nrec/current/bin/nrec agent --config /etc/nrec/config.json, Restart=always.
    service = spawn(process.execPath, [join(here, '..', 'dist', 'test', 'support', 'service-stand-in.js'), join(R(), 'opt/nrec/current/bin/nrec'), 'agent', '--config', join(R(), 'etc/nrec/config.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.add(service, async (s) => {
      if (s.exitCode !== null) return;
      s.kill('SIGTERM');
      await once(s, 'exit');
    });
    for (const s of [service.stdout!, service.stderr!]) createInterface({ input: s }).on('line', (l) => lines.push(l));
    await waitLine('agent healthy', 0);
  }, 240_000);
  afterAll(() => cleanup.run(), 60_000);

  it('installs a good bundle: current switches, the release is committed once healthy, the queued alarm arrives', async () => {
    const birth = await waitFor('a status from 1.0.0', () => readStream<{ bootId: string }>(join(work.path, 'store'), DEVICE, 'status').at(-1)?.m);
    // An alarm raised while the broker is down waits in the outbox across the update.
    await broker.stop();
    const mark = lines.length;
    await gpio.hold(2000);
    await waitLine('SOS raised', mark, 20_000);
    const update = run(installed('1.0.0'), ['update', bundles.good2.file, '--root', R(), '--restart-cmd', restartCmd(), '--deadline', '90']);
    await waitFor('release 1.1.0 under test', () => (existsSync(stateFile()) ? true : undefined), 60_000);
    await broker.restart();
    const r = await update;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('committed');
    expect(await current()).toBe('releases/1.1.0');
    expect(await readlink(join(R(), 'opt/nrec/previous'))).toBe('releases/1.0.0');
    const committed = await readState();
    expect(committed).toMatchObject({ phase: 'committed', release: '1.1.0', previous: '1.0.0' });
    // Committed only after the new release itself said it was healthy.
    const healthy = JSON.parse(await readFile(join(R(), 'var/lib/nrec/update/healthy.json'), 'utf8')) as { version: string; at: number };
    expect(healthy.version).toBe('1.1.0');
    expect(healthy.at).toBeGreaterThanOrEqual(committed.startedAt);
    expect(healthy.at).toBeLessThanOrEqual(committed.finishedAt!);
    // The alarm the old release queued reaches the platform from the new one.
    const alarm = await waitFor('the queued alarm', () => readStream<Alarm>(join(work.path, 'store'), DEVICE, 'alarm').map((l) => l.m).find((a) => a.bootId === birth.bootId), 60_000);
    expect(alarm).toBeDefined();
    // The operator acknowledges and resolves it, so the button can raise the next one.
    for (const name of ['alarm.ack', 'alarm.resolve']) {
      const done = nextStored<{ requestId: string; status: string }>(ingest, 'result', (x) => x.requestId === `t-${name.replace('.', '-')}`, 30_000);
      await ingest.sendCommand(DEVICE, name, { alarmId: alarm.alarmId }, 60_000, `t-${name.replace('.', '-')}`);
      expect((await done).status).toBe('ok');
    }
    await waitFor('update.committed event', () => events('update.committed').find((e) => e.data?.release === '1.1.0'), 30_000);
    // Config and state survived.
    expect(JSON.parse(await readFile(join(R(), 'etc/nrec/config.json'), 'utf8'))).toMatchObject({ deviceId: DEVICE });
    expect(existsSync(join(R(), 'var/lib/nrec/outbox.db'))).toBe(true);
  }, 240_000);

  it('refuses a bad signature or a wrong hash before anything changes', async () => {
    const before = { current: await current(), releases: (await readdir(join(R(), 'opt/nrec/releases'))).sort(), state: await readFile(stateFile(), 'utf8') };
    const foreign = await run(installed('1.1.0'), ['update', bundles.foreign.file, '--root', R(), '--restart-cmd', restartCmd()]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain('signature does not match');
    const hash = await run(installed('1.1.0'), ['update', bundles.good1.file, '--root', R(), '--sha256', '0'.repeat(64), '--restart-cmd', restartCmd()]);
    expect(hash.code).toBe(1);
    expect(hash.stderr).toContain('SHA-256');
    // Remotely: a hash that does not match the download, and a download signed by another key.
    const url = (b: { file: string }) => `https://127.0.0.1:${(https.address() as AddressInfo).port}/${b.file.split('/').at(-1)}`;
    const r1 = nextStored<{ requestId: string; status: string; reason?: string }>(ingest, 'result', (x) => x.requestId === 'upd-hash-1', 60_000);
    await ingest.sendCommand(DEVICE, 'update.install', { url: url(bundles.good1), sha256: 'a'.repeat(64) }, 60_000, 'upd-hash-1');
    expect(await r1).toMatchObject({ status: 'refused' });
    expect((await r1).reason).toContain('SHA-256');
    const r2 = nextStored<{ requestId: string; status: string; reason?: string }>(ingest, 'result', (x) => x.requestId === 'upd-sig-1', 60_000);
    await ingest.sendCommand(DEVICE, 'update.install', { url: url(bundles.foreign), sha256: bundles.foreign.sha256 }, 60_000, 'upd-sig-1');
    expect((await r2).reason).toContain('signature');
    expect(existsSync(join(R(), 'var/lib/nrec/update/request.json'))).toBe(false);
    expect({ current: await current(), releases: (await readdir(join(R(), 'opt/nrec/releases'))).sort(), state: await readFile(stateFile(), 'utf8') }).toEqual(before);
  }, 120_000);

  it('rolls a release that never becomes healthy back by itself within the deadline, and reports it', async () => {
    const deadlineS = 10;
    const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/${bundles.hung.file.split('/').at(-1)}`;
    const accepted = nextStored<{ requestId: string; status: string; result?: { version?: string } }>(ingest, 'result', (x) => x.requestId === 'upd-hung-1', 60_000);
    await ingest.sendCommand(DEVICE, 'update.install', { url, sha256: bundles.hung.sha256 }, 60_000, 'upd-hung-1');
    expect(await accepted).toMatchObject({ status: 'ok', result: { accepted: true, version: '1.2.0' } });
    const request = join(R(), 'var/lib/nrec/update/request.json');
    await waitFor('the update request', () => existsSync(request) || undefined, 30_000);
    // Queued while the broker is down, delivered after the rollback.
    const lastStatus = readStream<{ bootId: string }>(join(work.path, 'store'), DEVICE, 'status').at(-1)!.m;
    await broker.stop();
    const mark = lines.length;
    await gpio.hold(2000);
    await waitLine('SOS raised', mark, 20_000);
    // nrec-update.path would start nrec-update.service now: /opt/nrec/update-guard.sh --service.
    const guard = await run('sh', ['-c', `NREC_OPT=${R()}/opt/nrec NREC_STATE=${R()}/var/lib/nrec sh ${R()}/opt/nrec/update-guard.sh --service --root ${R()} --deadline ${deadlineS} --restart-cmd "${restartCmd()}"`]);
    expect(guard.code, `${guard.stdout}\n${guard.stderr}`).toBe(1);
    expect(guard.stdout).toContain('rolling back to 1.1.0');
    const state = await readState();
    expect(state).toMatchObject({ phase: 'rolled-back', release: '1.2.0', previous: '1.1.0', requestId: 'upd-hung-1' });
    expect(state.finishedAt! - state.startedAt).toBeGreaterThanOrEqual(deadlineS * 1000);
    expect(state.finishedAt! - state.startedAt).toBeLessThan(deadlineS * 1000 + 5000);
    expect(await current()).toBe('releases/1.1.0');
    expect(existsSync(join(R(), 'opt/nrec/releases/1.2.0'))).toBe(false);
    await broker.restart();
    const failed = await waitFor('update.failed event', () => events('update.failed').find((e) => e.data?.requestId === 'upd-hung-1'), 60_000);
    expect(failed.message).toContain('rolled back to 1.1.0');
    const alarm = await waitFor('the alarm queued before the update', () => readStream<Alarm>(join(work.path, 'store'), DEVICE, 'alarm').map((l) => l.m).find((a) => a.bootId === lastStatus.bootId), 60_000);
    expect(alarm).toBeDefined();
  }, 240_000);
});
