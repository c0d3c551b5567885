// Remote configuration that could cut the device off (issue 9, finding 6). The
// agent is a real child process behind a real Mosquitto; the ingest sends the
// commands and stores the answers. A dangerous config.set without confirm is
// refused; one that would not work here (not a URL, /bin/sh as ffmpeg) is
// refused even with confirm; with confirm and a broker address that does not
// work, the agent applies it, cannot connect, restores the previous config by
// itself within the deadline (also across a kill -9 in the middle) and
// reconnects, reporting the rollback as the command's result and an event;
// a change that works is committed.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Cleanup, freePort, Mosquitto, nextStored, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const DEADLINE_S = 8;

interface Result { requestId: string; status: string; reason?: string; result?: Record<string, unknown>; bootId: string }
interface EventMsg { kind: string; severity: string; message: string; data?: Record<string, unknown> }

describe('remote configuration is commit-confirmed', () => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;
  let original: Record<string, unknown>;

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    world = cleanup.add(await World.create({ logger, brokerUrl: mosquitto.url }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('sysfs watching button line');
    original = await onDisk();
  });
  afterAll(() => cleanup.run());

  const onDisk = async () => JSON.parse(await readFile(world.agent.configPath, 'utf8')) as Record<string, unknown> & { mqtt: Record<string, unknown> };
  const pendingFile = () => `${world.agent.configPath}.pending.json`;

  async function command(name: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<Result> {
    const id = `t-${name.replaceAll('.', '_')}-${Math.random().toString(36).slice(2, 10)}`;
    const answered = nextStored<Result>(world.ingest, 'result', (r) => r.requestId === id, timeoutMs);
    await world.ingest.sendCommand(world.deviceId, name, args, 120_000, id);
    return answered;
  }

  it('refuses settings that can cut the device off or silence it unless the command says confirm: true', async () => {
    for (const patch of [{ mqtt: { url: 'not a url' } }, { button: { enabled: false } }, { media: { ffmpegPath: '/bin/sh' } }, { mqtt: { keepaliveS: 45 } }, { dataDir: '/tmp/elsewhere' }]) {
      const r = await command('config.set', { patch });
      expect(r.status, JSON.stringify(patch)).toBe('refused');
      expect(r.reason).toMatch(/can cut the device off or silence it: refused without args\.confirm: true/);
    }
    expect(await onDisk()).toEqual(original);
  });

  it('refuses, even with confirm, a change that cannot work on this device, naming the setting', async () => {
    const notUrl = await command('config.set', { patch: { mqtt: { url: 'not a url' } }, confirm: true });
    expect(notUrl.status).toBe('error');
    // The whole resulting configuration is checked first: every problem named with its path.
    expect(notUrl.reason).toMatch(/\/mqtt\/url: .*not a url/);
    for (const fake of ['/bin/sh', '/bin/bash', '/bin/true']) {
      const r = await command('config.set', { patch: { media: { ffmpegPath: fake } }, confirm: true });
      expect(r.status, fake).toBe('error');
      expect(r.reason).toMatch(new RegExp(`media\\.ffmpegPath: "${fake}" is not a working ffmpeg`));
    }
    expect(await onDisk()).toEqual(original);
    expect(world.agent.running).toBe(true);
  });

  it('with confirm and a broker that does not answer, applies it, rolls back by itself within the deadline, reconnects and reports it', async () => {
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const rolledBack = nextStored<EventMsg>(world.ingest, 'event', (e) => e.kind === 'config.rolled-back', 60_000);
    const startedAt = Date.now();
    const r = await command('config.set', { patch: { mqtt: { url: dead } }, confirm: true, deadlineS: DEADLINE_S }, 60_000);
    const answeredAfterS = (Date.now() - startedAt) / 1000;
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(new RegExp(`rolled back to the previous configuration: not healthy within ${DEADLINE_S} s: not connected to the broker`));
    expect(r.result).toEqual({ rolledBack: true, changed: ['mqtt.url'] });
    expect(answeredAfterS).toBeGreaterThanOrEqual(DEADLINE_S - 1);
    expect(await rolledBack).toMatchObject({ severity: 'critical', data: { requestId: r.requestId, changed: ['mqtt.url'] } });
    expect(await onDisk()).toEqual(original);
    expect(existsSync(pendingFile())).toBe(false);
    expect(world.agent.running).toBe(true);
    // Connected again with the old config: it answers.
    expect((await command('ping', {})).status).toBe('ok');
  });

  it('a kill -9 while the change waits does not keep it: the restarted agent rolls it back at the deadline', async () => {
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const answer = nextStored<Result>(world.ingest, 'result', (x) => x.reason?.startsWith('rolled back') === true && x.requestId.startsWith('t-config_set-kill'), 90_000);
    const id = `t-config_set-kill-${Math.random().toString(36).slice(2, 8)}`;
    const lines = world.agent.lines.length;
    await world.ingest.sendCommand(world.deviceId, 'config.set', { patch: { mqtt: { url: dead } }, confirm: true, deadlineS: 15 }, 120_000, id);
    await waitFor('the change applied and waiting', () => world.agent.lines.slice(lines).some((l) => l.includes('waiting for the agent to be healthy')) || undefined, 30_000);
    expect((await onDisk()).mqtt.url).toBe(dead);
    await world.agent.kill9();
    world.agent.spawn();
    const r = await answer;
    expect(r.requestId).toBe(id);
    expect(r.reason).toMatch(/not healthy within 15 s: not connected to the broker/);
    expect(await onDisk()).toEqual(original);
    expect(existsSync(pendingFile())).toBe(false);
  });

  it('a change that works is committed once the agent is back and healthy', async () => {
    const committed = nextStored<EventMsg>(world.ingest, 'event', (e) => e.kind === 'config.committed', 60_000);
    const r = await command('config.set', { patch: { mqtt: { keepaliveS: 40 } }, confirm: true, deadlineS: 60 }, 60_000);
    expect(r.status, r.reason).toBe('ok');
    expect(r.result).toEqual({ committed: true, changed: ['mqtt.keepaliveS'] });
    expect(await committed).toMatchObject({ data: { requestId: r.requestId } });
    expect((await onDisk()).mqtt).toEqual({ ...original.mqtt as object, keepaliveS: 40 });
    expect(existsSync(pendingFile())).toBe(false);
  });

  it('config.get does not show credentials written into the broker URL', async () => {
    const withCreds = mosquitto.url.replace('mqtt://', 'mqtt://nurse:s3cret@');
    const set = await command('config.set', { patch: { mqtt: { url: withCreds } }, confirm: true, deadlineS: 60 }, 60_000);
    expect(set.status, set.reason).toBe('ok');
    const r = await command('config.get', {});
    expect(JSON.stringify(r.result)).not.toContain('s3cret');
    expect(JSON.stringify(r.result)).not.toContain('nurse');
    expect((r.result as { mqtt: { url: string } }).mqtt.url).toBe(mosquitto.url.replace('mqtt://', 'mqtt://redacted:redacted@'));
    // Every result and event above passed the ingest's schemas.
    expect(world.ingest.stats.rejected).toBe(0);
  });
});
