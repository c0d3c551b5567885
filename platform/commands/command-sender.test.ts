import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { ManualScheduler } from '../../lib/scheduler.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import type { IngestEvents } from '../ingest/ingest.js';
import { openStore } from '../store/open-store.js';
import { T0, TestDevice } from '../store/store-fixtures.js';
import type { PlatformStore } from '../store/types.js';
import { CommandSender } from './command-sender.js';
import { republishDelay } from './republish.js';

const logger = createLogger('test', { level: 'silent' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Published { deviceId: string; name: string; args: Record<string, unknown>; ttlMs: number; id: string; at: number; rows: number }

/** The ingest as the sender sees it: publishes are recorded (with what the store held at that moment), stored messages are emitted by the test. */
class FakeIngest extends EventEmitter<IngestEvents> {
  readonly published: Published[] = [];
  constructor(readonly store: PlatformStore, readonly clock: ManualScheduler) {
    super();
  }

  async sendCommand(deviceId: string, name: string, args: Record<string, unknown>, ttlMs: number, id: string): Promise<string> {
    const rows = (await this.store.select('SELECT publishes FROM commands WHERE request_id = ?', [id]))[0]?.publishes;
    this.published.push({ deviceId, name, args, ttlMs, id, at: this.clock.now(), rows: Number(rows ?? -1) });
    return id;
  }

  /** The device answers: the result is committed, then announced as the ingest does. */
  async answer(device: TestDevice, requestId: string, status: 'ok' | 'refused', result?: unknown): Promise<void> {
    const m = device.result(requestId, status, { rx: this.clock.now(), result });
    const { stored } = await this.store.commit([m], []);
    if (stored[0]) this.emit('stored', m.deviceId, 'result', m.msg);
  }
}

async function setup(dbPath?: string) {
  const dir = dbPath === undefined ? cleanup.add(await makeTempDir('nrec-cmd-'), (d) => d.remove()) : undefined;
  const url = dbPath ?? `sqlite:${dir!.file('platform.db')}`;
  const store = cleanup.add(await openStore(url), (s) => s.close());
  const clock = new ManualScheduler(T0);
  const ingest = new FakeIngest(store, clock);
  const sender = cleanup.add(new CommandSender({ store, ingest, logger, clock }), (s) => s.stop());
  await sender.start();
  return { url, store, clock, ingest, sender };
}

/** Moves the clock and lets the sender look at its pending commands. */
async function advance(s: { clock: ManualScheduler; sender: CommandSender }, ms: number): Promise<void> {
  s.clock.advance(ms);
  await s.sender.poll();
}

describe('command sender', () => {
  it('records a command before publishing it, re-publishes it with the same request id until the result is stored, then stops', async () => {
    const s = await setup();
    const device = new TestDevice('dev-1');
    const c = await s.sender.send('dev-1', 'alarm.ack', { alarmId: 'a-1' }, { by: 'alice', ttlMs: 3600_000 });
    expect(c).toMatchObject({ deviceId: 'dev-1', name: 'alarm.ack', args: { alarmId: 'a-1' }, by: 'alice', status: 'pending', sentAt: T0, expiresAt: T0 + 3600_000 });
    expect(s.ingest.published).toHaveLength(1);
    // In the store (with its publish counted) before it went out.
    expect(s.ingest.published[0]).toMatchObject({ id: c.requestId, deviceId: 'dev-1', name: 'alarm.ack', args: { alarmId: 'a-1' }, ttlMs: 3600_000, rows: 1 });

    await advance(s, 4999);
    expect(s.ingest.published).toHaveLength(1);
    await advance(s, 1);
    await advance(s, 10_000);
    await advance(s, 20_000);
    expect(s.ingest.published.map((p) => [p.id, p.at - T0])).toEqual([[c.requestId, 0], [c.requestId, 5000], [c.requestId, 15_000], [c.requestId, 35_000]]);

    const settled = new Promise((r) => s.sender.once('settled', r));
    const waited = s.sender.waitForResult(c.requestId, 60_000);
    await s.ingest.answer(device, c.requestId, 'ok', { alarmId: 'a-1', state: 'acknowledged' });
    expect(await settled).toMatchObject({ requestId: c.requestId, status: 'ok', result: { alarmId: 'a-1', state: 'acknowledged' }, answeredAt: T0 + 35_000 });
    expect(await waited).toMatchObject({ status: 'ok' });
    await advance(s, 600_000);
    expect(s.ingest.published).toHaveLength(4);
    expect(await s.sender.list('dev-1')).toEqual([await s.sender.get(c.requestId)]);
  });

  it('resumes pending commands after a restart, and matches results that were stored meanwhile', async () => {
    const s = await setup();
    const device = new TestDevice('dev-2');
    const a = await s.sender.send('dev-2', 'ping', {}, { ttlMs: 600_000 });
    const b = await s.sender.send('dev-2', 'alarm.ack', { alarmId: 'x' }, { ttlMs: 600_000 });
    await s.sender.stop();
    // While the sender is down the ingest stores a's result (no one listening).
    await s.store.commit([device.result(a.requestId, 'ok', { rx: T0 + 1000 })], []);

    const ingest = new FakeIngest(s.store, s.clock);
    const again = cleanup.add(new CommandSender({ store: s.store, ingest, logger, clock: s.clock }), (x) => x.stop());
    s.clock.advance(5000);
    await again.start();
    expect((await again.get(a.requestId))?.status).toBe('ok');
    expect((await again.get(a.requestId))?.answeredAt).toBe(T0 + 1000);
    expect(ingest.published.map((p) => p.id)).toEqual([b.requestId]);
  });

  it('expires an unanswered command, and still takes the device\'s late answer', async () => {
    const s = await setup();
    const device = new TestDevice('dev-3');
    const c = await s.sender.send('dev-3', 'ping', {}, { ttlMs: 12_000 });
    const waited = s.sender.waitForResult(c.requestId, 60_000);
    await advance(s, 5000);
    await advance(s, 7000);
    expect(await waited).toMatchObject({ status: 'expired', reason: 'no answer from the device before the command expired' });
    await advance(s, 60_000);
    expect(s.ingest.published).toHaveLength(2);
    await s.ingest.answer(device, c.requestId, 'refused');
    await s.sender.poll();
    expect(await s.sender.get(c.requestId)).toMatchObject({ status: 'refused', answeredAt: T0 + 72_000 });
  });

  it('treats a repeated request id as the same command and refuses bad input with a reason', async () => {
    const s = await setup();
    const first = await s.sender.send('dev-4', 'alarm.ack', { alarmId: 'y' }, { requestId: 'ack-y' });
    expect(await s.sender.send('dev-4', 'alarm.ack', { alarmId: 'y' }, { requestId: 'ack-y' })).toEqual(first);
    expect(s.ingest.published).toHaveLength(1);
    await expect(s.sender.send('dev-5', 'alarm.ack', {}, { requestId: 'ack-y' })).rejects.toThrow(/already used for alarm.ack to dev-4/);
    await expect(s.sender.send('dev 4', 'ping')).rejects.toThrow(/device id "dev 4" is not valid/);
    await expect(s.sender.send('dev-4', 'Ping!')).rejects.toThrow(/command name "Ping!" is not valid/);
    await expect(s.sender.send('dev-4', 'ping', {}, { ttlMs: 10 })).rejects.toThrow(/ttlMs 10 must be/);
    await expect(s.sender.send('dev-4', 'ping', [] as unknown as Record<string, unknown>)).rejects.toThrow(/args must be a JSON object/);
    expect(await s.sender.waitForResult('nope', 10)).toBeUndefined();
  });

  it('with two senders on one database, publishes each due repeat once; a device coming online gets its pending commands at once', async () => {
    const s = await setup();
    const ingest2 = new FakeIngest(s.store, s.clock);
    const other = cleanup.add(new CommandSender({ store: s.store, ingest: ingest2, logger, clock: s.clock }), (x) => x.stop());
    await other.start();
    const c = await s.sender.send('dev-6', 'ping', {}, { ttlMs: 600_000 });
    s.clock.advance(5000);
    await Promise.all([s.sender.poll(), other.poll(), s.sender.poll(), other.poll()]);
    const all = () => [...s.ingest.published, ...ingest2.published].map((p) => p.at - T0).sort((x, y) => x - y);
    expect(all()).toEqual([0, 5000]);

    s.clock.advance(1000);
    s.ingest.emit('presence', 'dev-6', 'online', 'boot-2');
    await new Promise((r) => setImmediate(r));
    await Promise.all([s.sender.poll(), other.poll()]);
    expect(all()).toEqual([0, 5000, 6000]);
    expect((await s.sender.get(c.requestId))?.status).toBe('pending');
  });

  it('backs off re-publishing from the minimum, doubling to the maximum', () => {
    expect([1, 2, 3, 4, 5, 10, 40].map((n) => republishDelay(n, 5000, 60_000))).toEqual([5000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  });
});
