// The platform as it is run: `nrec ingest --http` as a child process (the
// ingest, the alarm desk and the API in one process), the agent as a child
// process with its simulated GPS and button (the simulator's World, without
// its in-process ingest), a real Mosquitto, and the platform engineer's CLI
// as child processes: tokens made against the store, positions read from it,
// a command sent and answered, an SOS pressed on the button, seen on the
// live stream, acknowledged with `nrec alarms ack`, and the device's own
// alarm state turning acknowledged. No token ever appears in the platform's
// output, and SIGTERM ends the process cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { call } from './support/api.js';
import { checkGpx11, readGpxPositions } from './support/gpx.js';
import { Cleanup, cliPath, makeTempDir, Mosquitto, World, type TempDir } from './support/index.js';
import { SseClient } from './support/sse.js';
import { parseXml } from './support/xml.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs `nrec …` to its end. */
async function nrec(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NREC_API: '', NREC_TOKEN: '', NREC_TOKEN_FILE: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** `nrec ingest` running; every output line kept. */
class PlatformProcess {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  #waiters = new Set<() => void>();

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [cliPath(), 'ingest', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NREC_LOG_LEVEL: 'debug' } });
    for (const s of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: s }).on('line', (l) => {
        this.lines.push(l);
        for (const w of this.#waiters) w();
      });
    }
  }

  async line(pred: (l: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.lines.find(pred);
      if (l !== undefined) return l;
      if (this.child.exitCode !== null) throw new Error(`nrec ingest exited (${this.child.exitCode}):\n${this.lines.slice(-15).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`nrec ingest printed no such line within ${timeoutMs} ms:\n${this.lines.slice(-15).join('\n')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(done, 200);
        const self = this;
        function done() {
          clearTimeout(t);
          self.#waiters.delete(done);
          r();
        }
        this.#waiters.add(done);
      });
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    return code;
  }
}

let mosquitto: Mosquitto;
let dir: TempDir;
let world: World;
let platform: PlatformProcess;
let apiUrl: string;
const tokens: Record<'desk' | 'root' | 'wall', string> = { desk: '', root: '', wall: '' };
const files: Record<'desk' | 'root' | 'wall', string> = { desk: '', root: '', wall: '' };

async function poll<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  dir = cleanup.add(await makeTempDir('nrec-platform-'), (d) => d.remove());
  const store = dir.file('store');
  // The first tokens, straight against the store, before the platform ever ran.
  for (const [k, role, name] of [['desk', 'operator', 'desk-1'], ['root', 'admin', 'root'], ['wall', 'viewer', 'wall screen']] as const) {
    const r = await nrec(['token', 'create', '--role', role, '--name', name, '--store', store, ...(k === 'wall' ? ['--expires', '30d'] : [])]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/shown only this once/);
    tokens[k] = r.stdout.trim();
    expect(tokens[k]).toMatch(/^nrec_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    files[k] = dir.file(`${k}.token`);
    await writeFile(files[k], `${tokens[k]}\n`, { mode: 0o600 });
    await chmod(files[k], 0o600);
  }
  world = cleanup.add(await World.create({ logger, brokerUrl: mosquitto.url, ingest: false, storeDir: store, workDir: dir.file('world'), agentConfig: { gps: { intervalS: 1 }, button: { resendS: 2 }, health: { intervalS: 2 } } }), (w) => w.close());
  platform = new PlatformProcess(['--store', store, '--broker', mosquitto.url, '--http', '127.0.0.1:0']);
  cleanup.add(platform, (p) => p.stop());
  apiUrl = JSON.parse(await platform.line((l) => l.startsWith('{"api":'))).api as string;
  await platform.line((l) => l.includes('"ready":true'));
  await world.agent.waitForLine('sysfs watching button line');
}, 90_000);
afterAll(() => cleanup.run());

describe('the platform process and the CLI', () => {
  it('serves the device\'s state over the API, and its positions through nrec positions', async () => {
    let lastSeen: unknown;
    const dev = await poll('sim-001 online with a position', async () => {
      const r = await call(apiUrl, '/api/devices/sim-001', { token: tokens.wall });
      lastSeen = r.body;
      const d = r.status === 200 ? r.body.device : undefined;
      return d?.status === 'online' && d.lastPosition !== undefined && d.lastHealth !== undefined ? d : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${JSON.stringify(lastSeen).slice(0, 600)}`);
    });
    expect(dev).toMatchObject({ presence: { state: 'online' }, lastHealth: { report: { deviceId: 'sim-001' } } });
    expect(dev.lastPosition.ageMs).toBeLessThan(30_000);

    const store = dir.file('store');
    const table = await nrec(['positions', 'sim-001', '--since', '10m', '--store', store]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^FIX TIME\s+AGE\s+LAT\s+LON/);
    expect(table.stdout).toMatch(/\d+ positions of sim-001\n$/);
    const json = await nrec(['positions', 'sim-001', '--since', '10m', '--json', '--store', store]);
    const points = JSON.parse(json.stdout) as Array<{ msgId: string; fixTime: number }>;
    expect(points.length).toBeGreaterThan(0);
    const gpx = await nrec(['positions', 'sim-001', '--since', new Date(points[0].fixTime).toISOString(), '--until', String(points[points.length - 1].fixTime + 1), '--format', 'gpx', '--store', store]);
    expect(gpx.code, gpx.stderr).toBe(0);
    const doc = parseXml(gpx.stdout);
    expect(checkGpx11(doc)).toEqual([]);
    expect(readGpxPositions(doc).map((p) => p.msgId)).toEqual(points.map((p) => p.msgId));

    const usage = await nrec(['positions', 'sim-001', '--store', store]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.split('\n')[0]).toBe('nrec positions: --since TIME is required (e.g. --since 2h)');
    const missing = await nrec(['positions', 'nobody', '--since', '1h', '--store', store]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^nrec positions: no device "nobody"/);
  });

  it('sends commands with nrec command, records them and shows the agent\'s answer; refuses an operator an admin command', async () => {
    const api = ['--api', apiUrl, '--token-file', files.desk];
    const ping = await nrec(['command', 'sim-001', 'ping', ...api]);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(/^sim-001 answered ping: ok\n/);
    expect(ping.stdout).toContain('"pong": true');

    const locate = await nrec(['command', 'sim-001', 'locate', '--json', ...api]);
    expect(locate.code, locate.stderr).toBe(0);
    const sent = JSON.parse(locate.stdout) as { requestId: string; status: string; by: string };
    expect(sent).toMatchObject({ status: 'ok', by: 'desk-1' });
    const recorded = await call(apiUrl, `/api/commands/${sent.requestId}`, { token: tokens.wall });
    expect(recorded.body).toMatchObject({ name: 'locate', status: 'ok', deviceId: 'sim-001' });

    const denied = await nrec(['command', 'sim-001', 'config.set', '{"patch":{"logLevel":"debug"}}', ...api]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe('nrec command: 403 forbidden: config.set needs the admin role; token "desk-1" is operator\n');
    const asAdmin = await nrec(['command', 'sim-001', 'config.get', '--api', apiUrl, '--token-file', files.root]);
    expect(asAdmin.code, asAdmin.stderr).toBe(0);
    expect(asAdmin.stdout).toContain('"deviceId": "sim-001"');

    const bad = await nrec(['command', 'sim-001', 'geofence.set', '{"id":"h","lat":91,"lon":0,"radiusM":50}', ...api]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toMatch(/^nrec command: geofence\.set field \/args\/lat/);
    const noToken = await nrec(['command', 'sim-001', 'ping', '--api', apiUrl]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr.split('\n')[0]).toMatch(/no API token: give --token-file FILE/);
  });

  it('an SOS on the button reaches the live stream, nrec alarms lists it, nrec alarms ack acknowledges it and the device gets alarm.ack', async () => {
    const s = cleanup.add(await SseClient.open(`${apiUrl}/api/stream?access_token=${tokens.wall}&types=alarm`), (c) => c.close());
    await s.next((e) => e.event === 'hello');
    await world.pressSos(1700);
    const raised = await s.next((e) => e.event === 'alarm' && e.data.state === 'raised', 20_000);
    const alarmId = raised.data.alarmId as string;
    expect(raised.data).toMatchObject({ deviceId: 'sim-001', trigger: 'button', deviceState: 'raised' });
    const warn = await platform.line((l) => /"msg":"ALARM RAISED/.test(l) && l.includes(alarmId));
    expect(JSON.parse(warn)).toMatchObject({ level: 40, deviceId: 'sim-001', alarmId, state: 'raised' });

    const listed = await nrec(['alarms', 'list', '--open', '--json', '--api', apiUrl, '--token-file', files.wall]);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as Array<{ alarmId: string; state: string }>).find((a) => a.alarmId === alarmId)).toMatchObject({ state: 'raised' });
    const table = await nrec(['alarms', 'list', '--api', apiUrl, '--token-file', files.wall]);
    expect(table.stdout).toMatch(new RegExp(`^ALARM\\s+DEVICE\\s+STATE[^\\n]*\\n${alarmId}\\s+sim-001\\s+raised`, 'm'));

    const viewerAck = await nrec(['alarms', 'ack', alarmId, '--api', apiUrl, '--token-file', files.wall]);
    expect(viewerAck.code).toBe(1);
    expect(viewerAck.stderr).toMatch(/403 forbidden: this needs the operator role/);
    const ack = await nrec(['alarms', 'ack', alarmId, '--by', 'Nurse Ann', '--api', apiUrl, '--token-file', files.desk]);
    expect(ack.code, ack.stderr).toBe(0);
    expect(ack.stdout).toMatch(new RegExp(`^alarm ${alarmId} of sim-001 acknowledged by Nurse Ann via desk-1; alarm.ack sent to the device \\(request [A-Za-z0-9_-]+\\)\\n$`));
    await s.next((e) => e.event === 'alarm' && e.data.alarmId === alarmId && e.data.state === 'acknowledged');
    // The agent took the ack: its own state machine reports acknowledged, and it answered the command ok.
    const done = await s.next((e) => e.event === 'alarm' && e.data.alarmId === alarmId && e.data.deviceState === 'acknowledged' && e.data.ackCommand?.status === 'ok', 20_000);
    expect(done.data.deviceAcknowledgedAt).toBeGreaterThan(0);
    const twice = await nrec(['alarms', 'ack', alarmId, '--api', apiUrl, '--token-file', files.desk]);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toBe(`alarm ${alarmId} of sim-001 was already acknowledged by Nurse Ann via desk-1\n`);
    const unknown = await nrec(['alarms', 'ack', 'sos-nothing', '--api', apiUrl, '--token-file', files.desk]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('nrec alarms: 404 unknown-alarm: no alarm "sos-nothing" has been received from any device\n');
    const resolved = await nrec(['alarms', 'resolve', alarmId, '--note', 'false alarm, checked by phone', '--api', apiUrl, '--token-file', files.desk]);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toBe(`alarm ${alarmId} of sim-001 resolved by desk-1\n`);
  });

  it('lists and revokes tokens; a revoked token is refused at once; no token ever reaches the platform\'s output', async () => {
    const store = dir.file('store');
    const list = await nrec(['token', 'list', '--store', store]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+ROLE\s+STATE/);
    for (const name of ['desk-1', 'root', 'wall screen']) expect(list.stdout).toContain(name);
    const json = JSON.parse((await nrec(['token', 'list', '--json', '--store', store])).stdout) as Array<Record<string, unknown>>;
    expect(json.map((t) => [t.name, t.role, t.state])).toEqual([['desk-1', 'operator', 'valid'], ['root', 'admin', 'valid'], ['wall screen', 'viewer', 'valid']]);
    expect(json.every((t) => !('hash' in t) && !('token' in t))).toBe(true);
    expect(json.find((t) => t.name === 'desk-1')!.lastUsedAt).toBeGreaterThan(0);
    const dup = await nrec(['token', 'create', '--role', 'viewer', '--name', 'root', '--store', store]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/a valid token named "root" exists already/);

    const revoked = await nrec(['token', 'revoke', 'desk-1', '--store', store]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked token [0-9a-f]{16} "desk-1" \(operator\)/);
    const after = await nrec(['alarms', 'list', '--api', apiUrl, '--token-file', files.desk]);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^nrec alarms: 401 unauthorized: token "desk-1" \([0-9a-f]{16}\) was revoked at /);

    const output = platform.lines.join('\n');
    expect(output).toContain('"msg":"api request"');
    for (const [k, t] of Object.entries(tokens)) {
      expect(output.includes(t), `token ${k} in the platform's output`).toBe(false);
      expect(output.includes(t.slice(22)), `secret of ${k} in the platform's output`).toBe(false);
    }
  });

  it('refuses bad usage with one line and exit 2, and ends cleanly on SIGTERM', async () => {
    const store = dir.file('store');
    const cases: Array<[string[], RegExp]> = [
      [['alarms'], /^nrec alarms: say list, ack or resolve$/],
      [['alarms', 'resolve', 'x', '--token-file', files.root], /^nrec alarms: resolve needs --note TEXT/],
      [['token', 'create', '--role', 'boss', '--name', 'x', '--store', store], /^nrec token: --role must be viewer, operator or admin \(got "boss"\)$/],
      [['token', 'list'], /^nrec token: give the store: --db URL/],
      [['command', 'sim-001'], /^nrec command: give the device and the command/],
      [['ingest', '--store', store, '--http', 'nonsense'], /^nrec ingest: --http "nonsense" is not HOST:PORT/],
      [['ingest', '--store', store, '--offline-after', '30'], /^nrec ingest: --offline-after goes with --http/],
    ];
    for (const [args, first] of cases) {
      const r = await nrec(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(first);
    }
    // A contacts file that cannot be used is a usage problem: named, exit 2, nothing started.
    const contacts = await nrec(['ingest', '--store', dir.file('other-store'), '--broker', mosquitto.url, '--contacts', dir.file('contacts.json')]);
    expect(contacts.code, contacts.stderr).toBe(2);
    expect(contacts.stderr).toMatch(/contacts\.json/);

    expect(await platform.stop()).toBe(0);
    expect(platform.lines.some((l) => l.startsWith('{"received"') || l.includes('"accepted"'))).toBe(true);
  });
});
