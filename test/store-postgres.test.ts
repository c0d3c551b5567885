// The store suite (platform/store/store-suite.ts) on a real PostgreSQL
// cluster of this file's own (initdb in a temp dir, default settings), then
// what only a server can do wrong: stopping under a running store, and
// crashing (SIGKILL of the postmaster) in the middle of commits.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError, type AcceptedMessage, type PlatformStore } from '../platform/store/index.js';
import { storeSuite } from '../platform/store/store-suite.js';
import { rejectedInput, T0, TestDevice } from '../platform/store/store-fixtures.js';
import { Cleanup } from './support/index.js';
import { PostgresCluster } from './support/postgres.js';

let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await PostgresCluster.start();
}, 60_000);
afterAll(() => cluster?.dispose());

storeSuite({
  backend: 'postgres',
  freshUrl: () => cluster.createDatabase(),
  migrationsApplied: async (url) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    } finally {
      await c.end();
    }
  },
});

describe('postgres store faults', () => {
  const cleanup = new Cleanup();
  afterEach(async () => {
    await cleanup.run();
    // A test that failed half-way must not leave the next one without a server.
    if (!(await accepts())) await cluster.restart();
  });

  async function accepts(): Promise<boolean> {
    const c = new pg.Client({ connectionString: cluster.url() });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.end();
      return true;
    } catch {
      return false;
    }
  }

  async function fresh(): Promise<PlatformStore> {
    return cleanup.add(await openStore(await cluster.createDatabase()), (s) => s.close());
  }

  it('rejects commits while the server is stopped, and the same store commits again after it restarts', async () => {
    const store = await fresh();
    const d = new TestDevice('dev-pg');
    const before = [d.alarm('sos-pg', 'raised', 0), d.location({ time: T0 })];
    await store.commit(before, []);
    await cluster.stop();
    const batch = [d.alarm('sos-pg', 'raised', 1), d.location({ time: T0 + 1 }), d.health(20)];
    for (let i = 0; i < 2; i++) {
      const err = await store.commit(batch, [rejectedInput(1)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe('unavailable');
      expect((err as Error).message).toMatch(/platform store postgresql:\/\/postgres@127\.0\.0\.1:\d+\/\w+ \(postgres\): commit of 3 messages and 1 rejections failed/);
    }
    await expect(store.counts()).rejects.toBeInstanceOf(StoreError);
    await cluster.restart();
    // No reopen: the pool connects again.
    expect((await store.commit(batch, [rejectedInput(1)])).stored).toEqual([true, true, true]);
    expect((await store.commit([...before, ...batch], [])).stored).toEqual([false, false, false, false, false]);
    expect(await store.counts()).toMatchObject({ messages: { alarm: 2, location: 2, health: 1 }, rejected: 1 });
    expect((await store.alarm('dev-pg', 'sos-pg'))?.escalation).toBe(1);
  });

  it('keeps every commit that resolved through a kill -9 of the server; the rest re-commit exactly once', async () => {
    const store = await fresh();
    const d = new TestDevice('dev-k9');
    const batches: AcceptedMessage[][] = Array.from({ length: 400 }, (_, b) => Array.from({ length: 25 }, (_, i) => d.location({ time: T0 + b * 100 + i })));
    const resolved: number[] = [];
    const failed: number[] = [];
    let killed: Promise<void> | undefined;
    // Commits run back to back; the server is killed once a quarter of them went through.
    const run = (async () => {
      for (let b = 0; b < batches.length; b++) {
        if (b === 100) killed = cluster.kill9();
        try {
          await store.commit(batches[b], []);
          resolved.push(b);
        } catch (err) {
          expect(err).toBeInstanceOf(StoreError);
          failed.push(b);
        }
        if (killed !== undefined && failed.length >= 3) break;
      }
    })();
    await run;
    await killed;
    expect(resolved.length).toBeGreaterThanOrEqual(100);
    expect(failed.length).toBeGreaterThan(0);
    await cluster.restart();
    // Crash recovery replayed the WAL: whatever resolved is there.
    const ids = new Set((await store.messages('dev-k9', 'location')).map((m) => m.m.id));
    for (const b of resolved) for (const m of batches[b]) expect(ids.has(m.msg.id)).toBe(true);
    // What did not resolve (and what never ran) goes again, as the broker would redeliver it.
    const rest = batches.filter((_, b) => !resolved.includes(b));
    for (const b of rest) await store.commit(b, []);
    const all = (await store.messages('dev-k9', 'location')).map((m) => m.m.id);
    expect(all.length).toBe(batches.length * 25);
    expect(new Set(all).size).toBe(all.length);
    expect((await store.positions('dev-k9', { limit: 100_000 })).length).toBe(batches.length * 25);
  });
});
