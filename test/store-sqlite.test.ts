// The store suite (platform/store/store-suite.ts) on SQLite files, then what
// only a file can do wrong: its file system turning read-only under a running
// store (ext4 errors=remount-ro on a loop device), a full disk, and another
// process holding the write lock past busy_timeout.
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, SqliteStore, StoreError } from '../platform/store/index.js';
import { storeSuite } from '../platform/store/store-suite.js';
import { rejectedInput, T0, TestDevice } from '../platform/store/store-fixtures.js';
import { Cleanup, makeTempDir, type TempDir } from './support/index.js';
import { LoopFs } from './support/loop-fs.js';

let tmp: TempDir;
let n = 0;
beforeAll(async () => {
  tmp = await makeTempDir('nrec-store-sqlite-');
});
afterAll(() => tmp.remove());

storeSuite({
  backend: 'sqlite',
  freshUrl: async () => `sqlite:${tmp.file(`store-${++n}.db`)}`,
  migrationsApplied: async (url) => {
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      return (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version);
    } finally {
      db.close();
    }
  },
});

describe('sqlite store faults', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  /** A batch of `count` locations of about 1 KiB each. */
  function bigBatch(d: TestDevice, count: number) {
    return Array.from({ length: count }, (_, i) => d.location({ time: T0 + i }, { reason: 'interval' })).map((m) => ({ ...m, msg: { ...m.msg, pad: 'x'.repeat(1000) } }));
  }

  it('rejects a commit once its file system turns read-only, names the cause, and has written nothing of it', async () => {
    const fs = cleanup.add(await LoopFs.create(), (f) => f.dispose());
    const path = `${fs.path}/store.db`;
    const store = await SqliteStore.open(path);
    let open = true;
    cleanup.add(store, (s) => open && s.close());
    const d = new TestDevice('dev-ro');
    const before = [d.location({ time: T0 }), d.alarm('sos-ro', 'raised', 0)];
    await store.commit(before, []);
    fs.failReadOnly();
    const batch = [d.location({ time: T0 + 1 }), d.alarm('sos-ro', 'raised', 1), d.health(30)];
    const err = await store.commit(batch, [rejectedInput(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    const e = err as StoreError;
    expect(e.backend).toBe('sqlite');
    expect(['read-only', 'io']).toContain(e.kind);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/EROFS: the file system is read-only/);
    // Again: still refused, not silently accepted.
    await expect(store.commit([d.health(31)], [])).rejects.toBeInstanceOf(StoreError);
    await store.close();
    open = false;

    fs.repair();
    const db = new Database(path);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const again = cleanup.add(await openStore(`sqlite:${path}`), (s) => s.close());
    expect((await again.messages('dev-ro', 'location')).map((m) => m.m.id)).toEqual([before[0].msg.id]);
    expect((await again.alarm('dev-ro', 'sos-ro'))?.history.length).toBe(1);
    expect(await again.counts()).toMatchObject({ messages: { location: 1, alarm: 1 }, rejected: 0 });
    expect((await again.commit(batch, [rejectedInput(1)])).stored).toEqual([true, true, true]);
    expect((await again.alarm('dev-ro', 'sos-ro'))?.escalation).toBe(1);
  });

  it('rejects a commit on a full disk with kind "full", and the same store commits it once space is back', async () => {
    const fs = cleanup.add(await LoopFs.create(16), (f) => f.dispose());
    const store = cleanup.add(await SqliteStore.open(`${fs.path}/store.db`), (s) => s.close());
    const d = new TestDevice('dev-full');
    await store.commit([d.alarm('sos-full', 'raised', 0)], []);
    fs.fill();
    // Larger than the WAL so far: it has to grow.
    const batch = bigBatch(d, 3000);
    const err = await store.commit(batch, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe('full');
    expect((err as StoreError).code).toBe('SQLITE_FULL');
    expect(await store.counts()).toMatchObject({ messages: { alarm: 1 } });
    fs.free();
    expect((await store.commit(batch, [])).stored.every(Boolean)).toBe(true);
    expect((await store.counts()).messages).toEqual({ alarm: 1, location: 3000 });
  });

  it('rejects a commit with kind "busy" when another process holds the write lock past busy_timeout, then commits', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-store-busy-'), (t) => t.remove());
    const path = dir.file('store.db');
    const store = cleanup.add(await SqliteStore.open(path, { busyTimeoutMs: 200 }), (s) => s.close());
    const other = new Database(path);
    cleanup.add(other, (o) => o.close());
    other.exec('BEGIN IMMEDIATE');
    const d = new TestDevice('dev-busy');
    const t0 = Date.now();
    const err = await store.commit([d.health(10)], []).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe('busy');
    expect(await store.counts()).toMatchObject({ messages: {} });
    other.exec('COMMIT');
    expect((await store.commit([d.health(10)], [])).stored).toEqual([true]);
  });
});
