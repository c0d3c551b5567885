// `nrec sim` as a user runs it (node dist/cli.js sim), on a shared broker:
// its summary counts its own device only and evidence in chunks, and a
// capability the device cannot offer is printed on the console with why.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, cliPath, makeTempDir, Mosquitto } from './support/index.js';

const cleanup = new Cleanup();
let broker: Mosquitto;
beforeAll(async () => {
  broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  // Another device on the same broker, present only as its retained birth.
  const other = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  const status = { v: 1, id: 'boot9-status-0', deviceId: 'other-dev', bootId: 'boot9', seq: 0, ts: Date.now(), state: 'online', agentVersion: '0.0.1' };
  await other.publishAsync('nrec/v1/other-dev/status', JSON.stringify(status), { qos: 1, retain: true });
  await other.endAsync();
});
afterAll(() => cleanup.run());

async function sim(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; summary: Record<string, unknown>; stderr: string }> {
  const child = spawn(process.execPath, [cliPath(), 'sim', '--broker', broker.url, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(child, (c) => c.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  // `nrec sim` keeps its work dir for the user to look at; a test leaves nothing behind.
  const workDir = /agent log (\S+)\/agent\.log/.exec(stderr)?.[1];
  if (workDir !== undefined) cleanup.add(workDir, (d) => rm(d, { recursive: true, force: true }));
  const last = stdout.trim().split('\n').at(-1) ?? '{}';
  return { code, summary: JSON.parse(last) as Record<string, unknown>, stderr };
}

async function chunkFiles(store: string, deviceId: string): Promise<number> {
  let n = 0;
  const dir = join(store, 'evidence', deviceId);
  for (const s of await readdir(dir).catch(() => [] as string[])) n += (await readdir(join(dir, s))).filter((f) => /^chunk-\d+\.ts$/.test(f)).length;
  return n;
}

describe('nrec sim', () => {
  it('counts only its own device, and evidence as the chunks stored', async () => {
    const store = cleanup.add(await makeTempDir('nrec-sim-store-'), (d) => d.remove());
    const run = await sim(['--duration', '26', '--sos-at', '4', '--store', store.path, '--device', 'sim-count']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary.devices).toBe(1);
    const chunks = await chunkFiles(store.path, 'sim-count');
    expect(chunks).toBeGreaterThan(0);
    expect(run.summary.evidence).toBe(chunks);
    expect(run.summary.unavailable).toEqual([]);
    expect(run.stderr).not.toMatch(/UNAVAILABLE/);
    // The SOS reaches a person: the desk notified the simulated contact (signed webhook), who acknowledged
    // through the API, and the device took the acknowledgement.
    const states = run.summary.alarmStates as Record<string, string>;
    const [alarmId] = Object.keys(states);
    expect(alarmId, run.stderr).toBeDefined();
    expect(run.summary.notified).toBeGreaterThanOrEqual(1);
    expect(run.summary.acknowledgedBy).toEqual({ [alarmId]: 'sim-operator' });
    expect(states[alarmId]).toBe('acknowledged');
    // The platform it runs serves the operator console, and says where, with a token file to sign in with.
    expect(run.stderr).toMatch(/nrec sim: operator console http:\/\/127\.0\.0\.1:\d+\/console\/ \(sign in with the token in \S+operator\.token\)/);
  });

  it('prints a capability that is unavailable, and why', async () => {
    const run = await sim(['--duration', '8', '--sos-at', 'none', '--device', 'sim-noprobe'], { FFPROBE_PATH: '/nonexistent/ffprobe' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/nrec sim: UNAVAILABLE: evidence capture unavailable: FFPROBE_PATH "\/nonexistent\/ffprobe" is not a working ffprobe.* \[recorder\.fault\]/);
    expect(run.summary).toMatchObject({ devices: 1, evidence: 0, unavailable: [expect.stringContaining('FFPROBE_PATH')] });
  });
});
