import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { COMMAND_MAX_LIFETIME_MS, CommandRegistry, INTERRUPTED_REASON, RESULT_RETENTION_MS } from './command-registry.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const logger = createLogger('test', { level: 'silent' });
const DAY = 24 * 3600 * 1000;

function request(id: string, name: string, at: number, o: { ttlMs?: number; args?: Record<string, unknown>; deviceId?: string } = {}): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, id, deviceId: o.deviceId ?? 'dev-1', bootId: 'platform', seq: 0, ts: at, name, expiresAt: at + (o.ttlMs ?? 60_000), args: o.args ?? {} }));
}

/** A registry on a real SQLite file; `reopen` is what a restart does. */
async function registry() {
  const dir = cleanup.add(await makeTempDir('nrec-cmd-'), (d) => d.remove());
  let now = 1_800_000_000_000;
  const runs: string[] = [];
  const open = () => {
    const r = new CommandRegistry(dir.file('commands.db'), 'dev-1', logger, () => now);
    r.register('ping', () => {
      runs.push('ping');
      return { result: { pong: true } };
    }, { replaySafe: true });
    r.register('alarm.raise', () => {
      runs.push('alarm.raise');
      return { result: { raised: true } };
    });
    r.register('config.set', () => ({ deferred: true }));
    return r;
  };
  let current = open();
  cleanup.add(null, () => current.close());
  return {
    get r() {
      return current;
    },
    runs,
    advance: (ms: number) => (now += ms),
    now: () => now,
    reopen: () => {
      current.close();
      current = open();
      return current;
    },
  };
}

describe('CommandRegistry durability', () => {
  it('keeps a received request until its answer is durable, and after a restart runs what is safe and answers the rest "interrupted by restart"', async () => {
    const t = await registry();
    // Received (before the PUBACK), then the agent died before answering either.
    t.r.receive(request('p-1', 'ping', t.now()));
    t.r.receive(request('r-1', 'alarm.raise', t.now()));
    expect(t.r.unanswered().map((u) => u.requestId)).toEqual(['p-1', 'r-1']);

    const after = t.reopen();
    const pending = after.unanswered();
    expect(pending.map((u) => [u.requestId, u.deferred])).toEqual([['p-1', false], ['r-1', false]]);
    const answers = await Promise.all(pending.map((u) => after.handle(u.payload, { afterRestart: true })));
    expect(answers.map((a) => [a?.requestId, a?.status])).toEqual([['p-1', 'ok'], ['r-1', 'error']]);
    expect(answers[1]?.reason).toMatch(new RegExp(`^${INTERRUPTED_REASON}: .*alarm\\.raise`));
    expect(t.runs).toEqual(['ping']); // the unsafe one was not run again
    for (const a of answers) after.answered(a!.requestId);
    expect(after.unanswered()).toEqual([]);
    // A redelivery of either is answered from the stored result.
    expect((await after.handle(request('r-1', 'alarm.raise', t.now())))?.status).toBe('error');
    expect(t.runs).toEqual(['ping']);
  });

  it('after a restart a request that had already run is answered from its stored result, not run again', async () => {
    const t = await registry();
    const p = request('p-2', 'ping', t.now());
    t.r.receive(p);
    const first = await t.r.handle(p);
    // The result was stored, then the agent died before the outbox had it (answered not called).
    const after = t.reopen();
    const [u] = after.unanswered();
    expect(await after.handle(u.payload, { afterRestart: true })).toEqual(first);
    expect(t.runs).toEqual(['ping']);
  });

  it('caps a request at 7 days from its ts, whatever its expiresAt, so it cannot outlive its stored result', async () => {
    const t = await registry();
    const sentAt = t.now();
    const p = request('p-3', 'ping', sentAt, { ttlMs: 30 * DAY });
    t.advance(COMMAND_MAX_LIFETIME_MS + 1000);
    const r = await t.r.handle(p);
    expect(r?.status).toBe('expired');
    expect(r?.reason).toMatch(/at most 7 days from its ts/);
    expect(t.runs).toEqual([]);
    expect(RESULT_RETENTION_MS).toBeGreaterThan(COMMAND_MAX_LIFETIME_MS);
  });

  it('a redelivery after the stored result was pruned is not run again', async () => {
    const t = await registry();
    const p = request('p-4', 'ping', t.now(), { ttlMs: 365 * DAY });
    expect((await t.r.handle(p))?.status).toBe('ok');
    t.advance(RESULT_RETENTION_MS + 1000);
    const after = t.reopen(); // prunes results older than the retention
    expect((await after.handle(p))?.status).toBe('expired');
    expect(t.runs).toEqual(['ping']);
  });

  it('a deferred answer is not published, not run twice, survives a restart, and completes once', async () => {
    const t = await registry();
    const p = request('c-1', 'config.set', t.now(), { args: { patch: {} } });
    t.r.receive(p);
    expect(await t.r.handle(p)).toBeUndefined();
    expect(await t.r.handle(p)).toBeUndefined(); // a redelivery while waiting
    const after = t.reopen();
    expect(after.unanswered()).toEqual([{ requestId: 'c-1', payload: p, deferred: true }]);
    expect(await after.handle(p, { afterRestart: true })).toBeUndefined();
    const body = after.complete('c-1', 'config.set', { status: 'error', reason: 'rolled back' });
    expect(body).toEqual({ requestId: 'c-1', name: 'config.set', status: 'error', reason: 'rolled back' });
    after.answered('c-1');
    expect(await after.handle(p)).toEqual(body);
    expect(after.unanswered()).toEqual([]);
  });
});
