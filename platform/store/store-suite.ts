import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir, type TempDir } from '../../test/support/temp.js';
import { StoreWriter } from '../../test/support/store-writers.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite.js';
import { openStore } from './open-store.js';
import { storeModelTest } from './store-model.js';
import { chunkChain, chunkInput, DEVICE_PUBLIC_KEY, manifestFor, manifestInput, rejectedInput, T0, TestDevice } from './store-fixtures.js';
import { StoreError, type AcceptedMessage, type PlatformStore } from './types.js';

/*
 * One suite, both back-ends: test/store-sqlite.test.ts and
 * test/store-postgres.test.ts call storeSuite with a harness that hands out
 * fresh, empty databases. Back-end specific faults (a stopped server, a
 * read-only file system) live in those files.
 */

export interface StoreHarness {
  backend: 'sqlite' | 'postgres';
  /** The URL of a new, empty database. */
  freshUrl(): Promise<string>;
  /** The versions recorded in schema_migrations, read with the driver directly. */
  migrationsApplied(url: string): Promise<number[]>;
}

const HOUR = 3_600_000;

export function storeSuite(h: StoreHarness): void {
  describe(`platform store on ${h.backend}`, () => {
    const cleanup = new Cleanup();
    let tmp: TempDir;
    beforeAll(async () => {
      tmp = await makeTempDir('nrec-store-suite-');
    });
    afterEach(() => cleanup.run());
    afterAll(() => tmp.remove());

    async function fresh(): Promise<{ store: PlatformStore; url: string }> {
      const url = await h.freshUrl();
      const store = cleanup.add(await openStore(url), (s) => s.close());
      expect(store.backend).toBe(h.backend);
      return { store, url };
    }

    it('commits every stream in one batch and reads each back as it was sent', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-a');
      const batch = [
        d.status('online', { agentVersion: '1.2.3', rx: T0 }),
        d.health(81, { rx: T0 + 1 }),
        d.event('storage', 'quota at 90 %', { usedPct: 90 }, { rx: T0 + 2 }),
        d.location({ time: T0 + 3, lat: 52.5, lon: 13.4, altM: 40, speedMps: 1.2, courseDeg: 90, accuracyM: 4, satsUsed: 9 }, { rx: T0 + 3, reason: 'interval' }),
        d.location({ time: T0 - HOUR, stale: true }, { rx: T0 + 4, backfill: true }),
        d.alarm('sos-1', 'raised', 0, { rx: T0 + 5, fix: { lat: 52.5, lon: 13.4, time: T0, fixType: '3d' }, batteryPct: 80 }),
        d.result('req-1', 'ok', { rx: T0 + 6, result: { pong: true } }),
      ];
      const r = await store.commit(batch, [rejectedInput(1, { rx: T0 + 7 })]);
      expect(r.stored).toEqual(batch.map(() => true));

      for (const stream of ['status', 'health', 'event', 'alarm', 'result'] as const) {
        const back = await store.messages('dev-a', stream);
        const sent = batch.filter((m) => m.stream === stream);
        expect(back).toEqual(sent.map((m) => ({ rx: m.rx, topic: m.topic, m: m.msg })));
      }
      const locs = await store.messages('dev-a', 'location');
      expect(locs.map((l) => l.topic)).toEqual(['nrec/v1/dev-a/location', 'nrec/v1/dev-a/location/batch']);
      expect(locs[1].m).toEqual(batch[4].msg);

      expect(await store.rejected()).toEqual([{ rx: T0 + 7, topic: 'nrec/v1/dev-x/location', deviceId: 'dev-x', category: 'schema', detail: 'field /fix/lat: must be <= 90 (1)', msgId: 'bad-1', payload: '{"bad":1}' }]);
      expect(await store.counts()).toEqual({ devices: 1, messages: { status: 1, health: 1, event: 1, location: 2, alarm: 1, result: 1 }, rejected: 1, rejectReasons: { schema: 1 } });

      const dev = await store.device('dev-a');
      expect(dev).toMatchObject({ id: 'dev-a', firstSeen: T0, lastSeen: T0 + 6, agentVersion: '1.2.3', presence: { state: 'online', bootId: d.bootId, at: T0 } });
      expect(dev?.lastPosition).toEqual({
        deviceId: 'dev-a', msgId: batch[3].msg.id, fixTime: T0 + 3, rx: T0 + 3, ts: batch[3].msg.ts, lat: 52.5, lon: 13.4, altM: 40, speedMps: 1.2, courseDeg: 90,
        accuracyM: 4, fixType: '3d', satsUsed: 9, stale: false, reason: 'interval', backfill: false,
      });
      expect(dev?.lastHealth).toMatchObject({ msgId: batch[1].msg.id, batteryPct: 81, trigger: 'interval', health: batch[1].msg });
      expect(await store.devices()).toEqual([dev]);

      const positions = await store.positions('dev-a');
      expect(positions.map((p) => [p.fixTime, p.stale, p.backfill])).toEqual([[T0 - HOUR, true, true], [T0 + 3, false, false]]);
      expect(await store.events({ deviceId: 'dev-a' })).toEqual([{ deviceId: 'dev-a', msgId: batch[2].msg.id, ts: batch[2].msg.ts, rx: T0 + 2, kind: 'storage', severity: 'warning', message: 'quota at 90 %', data: { usedPct: 90 } }]);
      expect((await store.health('dev-a')).map((x) => x.batteryPct)).toEqual([81]);
      expect(await store.openAlarms()).toEqual([{
        deviceId: 'dev-a', alarmId: 'sos-1', state: 'raised', trigger: 'button', raisedAt: T0, escalation: 0, resends: 0, messages: 1,
        lastFix: { lat: 52.5, lon: 13.4, time: T0, fixType: '3d' }, batteryPct: 80, firstRx: T0 + 5, lastRx: T0 + 5,
      }]);
      expect(await store.results('req-1')).toEqual([{ deviceId: 'dev-a', requestId: 'req-1', msgId: batch[6].msg.id, name: 'ping', status: 'ok', result: { pong: true }, restartRequired: false, ts: batch[6].msg.ts, rx: T0 + 6 }]);
    });

    it('stores a batch committed twice once, and a message repeated within a batch once', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-b');
      const batch = Array.from({ length: 20 }, (_, i) => d.location({ time: T0 + i * 1000 }));
      expect((await store.commit(batch, [rejectedInput(1)])).stored.every(Boolean)).toBe(true);
      const again = await store.commit(batch, [rejectedInput(1)]);
      expect(again.stored).toEqual(batch.map(() => false));
      const extra = d.location({ time: T0 + 99_000 });
      expect((await store.commit([batch[0], extra, batch[1], batch[1]], [])).stored).toEqual([false, true, false, false]);
      const repeatNew = d.location({ time: T0 + 100_000 });
      expect((await store.commit([repeatNew, repeatNew], [])).stored).toEqual([true, false]);
      expect((await store.messages('dev-b', 'location')).map((m) => m.m.id)).toEqual([...batch, extra, repeatNew].map((m) => m.msg.id));
      expect((await store.positions('dev-b', { limit: 100 })).length).toBe(22);
      // The same rejected input recorded again (a redelivery of a bad message) is one record.
      expect((await store.rejected()).length).toBe(1);
      expect((await store.counts()).messages).toEqual({ location: 22 });
    });

    it('stores only the new part of overlapping batches, in receipt order', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-c');
      const all = Array.from({ length: 15 }, (_, i) => d.health(100 - i, { rx: T0 + i }));
      expect((await store.commit(all.slice(0, 10), [])).stored).toEqual(Array(10).fill(true));
      expect((await store.commit(all.slice(5, 15), [])).stored).toEqual([...Array(5).fill(false), ...Array(5).fill(true)]);
      expect((await store.messages('dev-c', 'health')).map((m) => m.m.id)).toEqual(all.map((m) => m.msg.id));
      expect((await store.health('dev-c', { limit: 1000 })).length).toBe(15);
      expect((await store.device('dev-c'))?.lastHealth?.batteryPct).toBe(86);
    });

    it('stores nothing of a batch whose commit fails part-way, and the same batch commits afterwards', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-f');
      const good = [d.location({ time: T0 }), d.health(40), d.alarm('sos-f', 'raised', 0)];
      // NaN is no JSON and no column value: the positions insert fails after the messages went in.
      const bad = d.location({ time: T0 + 1, lat: Number.NaN });
      const err = await store.commit([...good, bad], [rejectedInput(5)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/commit of 4 messages and 1 rejections failed/);
      expect(await store.counts()).toEqual({ devices: 0, messages: {}, rejected: 0, rejectReasons: {} });
      expect(await store.alarm('dev-f', 'sos-f')).toBeUndefined();
      expect((await store.commit(good, [rejectedInput(5)])).stored).toEqual([true, true, true]);
      expect((await store.counts()).messages).toEqual({ location: 1, health: 1, alarm: 1 });
    });

    it('keeps receipt order among messages of one receipt time as they were in the batch', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-o');
      // Ids whose key order ("-loc-10" < "-loc-9") differs from the batch order; one rx for all.
      const batch = Array.from({ length: 12 }, (_, i) => d.location({ time: T0 + i }, { rx: T0 }));
      await store.commit(batch, []);
      expect((await store.messages('dev-o', 'location')).map((m) => m.m.id)).toEqual(batch.map((m) => m.msg.id));
    });

    it('model: random batches with repeats store every message exactly once', async () => {
      await storeModelTest(() => fresh().then((f) => f.store), h.backend === 'postgres' ? 15 : 40);
    });

    it('two store instances in two processes committing overlapping batches at once store each id exactly once', async () => {
      const url = await h.freshUrl();
      const devices = ['dev-p', 'dev-q', 'dev-r'].map((id) => new TestDevice(id));
      const pool: AcceptedMessage[] = [];
      for (let i = 0; i < 200; i++) {
        const d = devices[i % 3];
        pool.push(i % 7 === 0 ? d.alarm(`sos-${d.id}`, 'raised', i, { rx: T0 + i }) : d.location({ time: T0 + i }, { rx: T0 + i }));
      }
      // Batches of 20 with overlaps, in a different order in each process.
      const batchesFor = (seed: number) => Array.from({ length: 12 }, (_, b) => {
        const start = (b * 17 + seed * 5) % 180;
        const slice = pool.slice(start, start + 20);
        return seed % 2 === 0 ? slice : slice.reverse();
      });
      const writers = await Promise.all([0, 1].map((s) => StoreWriter.start(url, batchesFor(s), `${tmp.path}/batches-${h.backend}-${s}.json`)));
      for (const w of writers) cleanup.add(w, (x) => x.kill());
      await Promise.all(writers.map((w) => w.ready()));
      const local = cleanup.add(await openStore(url), (s) => s.close());
      const mine = batchesFor(2);
      const localRun = (async () => {
        const out: boolean[][] = [];
        for (const b of mine) out.push((await local.commit(b, [])).stored);
        return out;
      })();
      const results = await Promise.all([...writers.map((w) => w.go()), localRun]);
      const all = [batchesFor(0), batchesFor(1), mine];
      const storedBy = new Map<string, number>();
      results.forEach((perBatch, w) => perBatch.forEach((flags, b) => flags.forEach((f, i) => {
        const key = all[w][b][i].msg.id;
        storedBy.set(key, (storedBy.get(key) ?? 0) + (f ? 1 : 0));
      })));
      // Every id any of them sent was reported newly stored by exactly one of them…
      expect([...storedBy.values()].every((n) => n === 1)).toBe(true);
      // …and is there exactly once, with exactly one derived row.
      let total = 0;
      for (const d of devices) {
        const ids = [...(await local.messages(d.id, 'location')), ...(await local.messages(d.id, 'alarm'))].map((m) => m.m.id);
        expect(new Set(ids).size).toBe(ids.length);
        total += ids.length;
        expect((await local.positions(d.id, { limit: 1000 })).length).toBe((await local.messages(d.id, 'location')).length);
        const alarm = await local.alarm(d.id, `sos-${d.id}`);
        expect(alarm?.history.length).toBe((await local.messages(d.id, 'alarm')).length);
        expect(alarm?.messages).toBe(alarm?.history.length);
      }
      expect(total).toBe(storedBy.size);
    });

    it('ignores a last will of an earlier boot (the stale-will rule), within a batch and across batches', async () => {
      const { store } = await fresh();
      const boot1 = new TestDevice('dev-w', 'boot-1');
      const boot2 = new TestDevice('dev-w', 'boot-2');
      // A will before any birth is taken as is.
      await store.commit([boot1.status('offline', { rx: T0 })], []);
      expect((await store.device('dev-w'))?.presence).toEqual({ state: 'offline', bootId: 'boot-1', at: T0 });
      // In one batch: birth 1, birth 2, then boot 1's will arriving late.
      await store.commit([boot1.status('online', { rx: T0 + 1, agentVersion: '1.0.0' }), boot2.status('online', { rx: T0 + 2, agentVersion: '1.1.0' }), boot1.status('offline', { rx: T0 + 3 })], []);
      expect(await store.device('dev-w')).toMatchObject({ presence: { state: 'online', bootId: 'boot-2', at: T0 + 2 }, birthBootId: 'boot-2', agentVersion: '1.1.0' });
      // Across batches: another stale will and a stale shutdown, then boot 2's own will.
      await store.commit([boot1.status('offline', { rx: T0 + 4 })], []);
      await store.commit([boot1.status('shutdown', { rx: T0 + 5 })], []);
      expect((await store.device('dev-w'))?.presence).toEqual({ state: 'online', bootId: 'boot-2', at: T0 + 2 });
      await store.commit([boot2.status('offline', { rx: T0 + 6, reason: 'connection lost' })], []);
      expect((await store.device('dev-w'))?.presence).toEqual({ state: 'offline', bootId: 'boot-2', at: T0 + 6, reason: 'connection lost' });
      // A birth of an older boot (a device rolled back) is still a birth: it is what the device says now.
      await store.commit([boot1.status('online', { rx: T0 + 7 })], []);
      expect((await store.device('dev-w'))?.presence).toMatchObject({ state: 'online', bootId: 'boot-1' });
      // Every status message is stored, stale ones included.
      expect((await store.messages('dev-w', 'status')).length).toBe(8);
    });

    it('keeps one row per alarm with its furthest state, highest escalation, re-sends and full history', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-s');
      const fix = (n: number) => ({ lat: 50 + n / 100, lon: 8, time: T0 + n, fixType: '3d' as const });
      const raised = [0, 1, 2].map((e) => d.alarm('sos-7', 'raised', e, { rx: T0 + e * 1000, fix: fix(e), batteryPct: 90 - e }));
      await store.commit(raised.slice(0, 2), []);
      const ack = d.alarm('sos-7', 'acknowledged', 2, { rx: T0 + 5000 });
      await store.commit([ack, raised[1]], []);
      // The escalation-2 re-send arrives after the acknowledgement: it raises the escalation, not the state back.
      await store.commit([raised[2]], []);
      const a = await store.alarm('dev-s', 'sos-7');
      expect(a).toMatchObject({ state: 'acknowledged', escalation: 2, resends: 2, messages: 4, lastFix: fix(2), batteryPct: 88, firstRx: T0, lastRx: T0 + 5000 });
      expect(a?.history.map((x) => [x.state, x.escalation, x.rx])).toEqual([['raised', 0, T0], ['raised', 1, T0 + 1000], ['raised', 2, T0 + 2000], ['acknowledged', 2, T0 + 5000]]);
      expect((await store.openAlarms()).map((x) => x.alarmId)).toEqual(['sos-7']);
      await store.commit([d.alarm('sos-7', 'resolved', 2, { rx: T0 + 9000 }), d.alarm('sos-8', 'raised', 0, { rx: T0 + 9001, raisedAt: T0 + 9000 })], []);
      expect((await store.openAlarms()).map((x) => x.alarmId)).toEqual(['sos-8']);
      expect((await store.alarm('dev-s', 'sos-7'))?.state).toBe('resolved');
      expect((await store.alarms({ deviceId: 'dev-s' })).map((x) => x.alarmId)).toEqual(['sos-7', 'sos-8']);
      expect((await store.alarms({ from: T0 + 1 })).map((x) => x.alarmId)).toEqual(['sos-8']);
      expect((await store.findAlarms('sos-8')).map((x) => x.deviceId)).toEqual(['dev-s']);
      expect(await store.alarm('dev-s', 'nope')).toBeUndefined();
    });

    it('answers position range queries by fix time, bounded, in either order, and tracks the latest fix', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-t');
      const times = [5, 1, 9, 3, 7, 2, 8];
      // Backfilled fixes arrive after newer live ones: the last position is the latest fix, not the latest arrival.
      await store.commit(times.map((t, i) => d.location({ time: T0 + t * 60_000 }, { rx: T0 + i, backfill: t < 5 })), []);
      const other = new TestDevice('dev-u');
      await store.commit([other.location({ time: T0 + 4 * 60_000 })], []);
      const min = (n: number) => T0 + n * 60_000;
      expect((await store.positions('dev-t')).map((p) => p.fixTime)).toEqual([1, 2, 3, 5, 7, 8, 9].map(min));
      expect((await store.positions('dev-t', { from: min(2), to: min(8) })).map((p) => p.fixTime)).toEqual([2, 3, 5, 7].map(min));
      expect((await store.positions('dev-t', { from: min(2), limit: 2 })).map((p) => p.fixTime)).toEqual([2, 3].map(min));
      expect((await store.positions('dev-t', { order: 'desc', limit: 3 })).map((p) => p.fixTime)).toEqual([9, 8, 7].map(min));
      expect((await store.positions('dev-t', { from: min(10) }))).toEqual([]);
      expect((await store.device('dev-t'))?.lastPosition?.fixTime).toBe(min(9));
      await store.commit([d.location({ time: min(4) }, { backfill: true })], []);
      expect((await store.device('dev-t'))?.lastPosition?.fixTime).toBe(min(9));
      await expect(store.positions('dev-t', { limit: 0 })).rejects.toThrow(/limit 0/);
    });

    it('indexes chunks and manifests idempotently, refuses a forked chunk, and lists visits of a day', async () => {
      const { store } = await fresh();
      const chain = chunkChain('dev-v', 'sess-1', 3);
      expect(await store.recordChunk(chunkInput(chain[0], { verified: false }))).toBe(true);
      expect(await store.recordChunk(chunkInput(chain[0], { verified: false }))).toBe(false);
      expect(await store.recordChunk(chunkInput(chain[0]))).toBe(true); // now verified
      expect(await store.recordChunk(chunkInput(chain[0]))).toBe(false);
      for (const c of chain.slice(1)) expect(await store.recordChunk(chunkInput(c))).toBe(true);
      const fork = { ...chain[1], link: 'f'.repeat(64) };
      const err = await store.recordChunk(chunkInput(fork)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe('conflict');
      expect((err as Error).message).toMatch(/dev-v\/sess-1\/1 .*fork/);

      let v = await store.visit('dev-v', 'sess-1');
      expect(v).toMatchObject({ state: 'recording', verification: 'pending', visitId: 'visit-sess-1', startedAt: T0, endedAt: T0 + 30_000 });
      expect(v?.chunks.map((c) => [c.index, c.link, c.verified])).toEqual(chain.map((c) => [c.meta.index, c.link, true]));

      const m = manifestFor(chain);
      expect(await store.recordManifest(manifestInput(m))).toBe(true);
      expect(await store.recordManifest(manifestInput(m))).toBe(false);
      expect(await store.recordManifest(manifestInput(m, { verification: 'failed', detail: 'chunk 2: signature does not verify' }))).toBe(true);
      v = await store.visit('dev-v', 'sess-1');
      expect(v).toMatchObject({ state: 'closed', verification: 'failed', verificationDetail: 'chunk 2: signature does not verify', trigger: 'visit', manifest: m, manifestPath: '/evidence/dev-v/sess-1/manifest.json' });
      // A chunk indexed after its manifest does not reopen the visit.
      expect(await store.recordChunk(chunkInput(chain[2]))).toBe(false);

      const nextDay = chunkChain('dev-v', 'sess-2', 1, T0 + 24 * HOUR);
      await store.recordChunk(chunkInput(nextDay[0]));
      const day = (n: number) => ({ from: Date.UTC(2026, 0, 5 + n), to: Date.UTC(2026, 0, 6 + n) });
      expect((await store.visits('dev-v', day(0))).map((x) => [x.sessionId, x.chunks.length])).toEqual([['sess-1', 3]]);
      expect((await store.visits('dev-v', day(1))).map((x) => [x.sessionId, x.chunks.length])).toEqual([['sess-2', 1]]);
      expect(await store.visits('dev-v', day(2))).toEqual([]);
      expect((await store.visits('dev-v')).length).toBe(2);
    });

    it('registers device keys, replaces them, and refuses private keys and junk', async () => {
      const { store } = await fresh();
      expect(await store.deviceKey('dev-k')).toBeUndefined();
      await store.registerDeviceKey('dev-k', DEVICE_PUBLIC_KEY);
      expect(await store.deviceKey('dev-k')).toBe(DEVICE_PUBLIC_KEY);
      // A device known only by its key is not counted as seen.
      expect((await store.counts()).devices).toBe(0);
      expect(await store.device('dev-k')).toMatchObject({ id: 'dev-k', publicKey: DEVICE_PUBLIC_KEY });
      await expect(store.registerDeviceKey('dev-k', '-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n')).rejects.toThrow(/private key/);
      await expect(store.registerDeviceKey('dev-k', 'not a key')).rejects.toThrow(/not a readable public key/);
      await expect(store.registerDeviceKey('bad id', DEVICE_PUBLIC_KEY)).rejects.toThrow(/not valid/);
      const d = new TestDevice('dev-k');
      await store.commit([d.health(50)], []);
      expect(await store.device('dev-k')).toMatchObject({ publicKey: DEVICE_PUBLIC_KEY, firstSeen: expect.any(Number) });
    });

    it('stores text a database cannot hold (NUL, lone surrogates) without failing the batch; the raw message stays exact', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-n');
      const ev = d.event('gps.link', 'bad byte \u0000 and \ud800 here', { 'k\u0000': 'v\udc00', nested: ['\u0000'] });
      const res = d.result('req-n', 'error', { reason: 'nul \u0000', result: '\u0000' });
      const ok = d.location({ time: T0 });
      expect((await store.commit([ev, res, ok], [rejectedInput(2, { detail: 'nul \u0000', topic: 'nrec/v1/\u0000', payload: Buffer.from([0, 0xff, 0xfe]) })])).stored).toEqual([true, true, true]);
      expect((await store.messages('dev-n', 'event'))[0].m).toEqual(ev.msg);
      const [e] = await store.events({ deviceId: 'dev-n' });
      expect(e.message).toBe('bad byte \ufffd and \ufffd here');
      expect(e.data).toEqual({ 'k\ufffd': 'v\ufffd', nested: ['\ufffd'] });
      expect((await store.results('req-n'))[0]).toMatchObject({ reason: 'nul \ufffd', result: '\ufffd' });
      const [rej] = await store.rejected();
      expect(rej).toMatchObject({ detail: 'nul \ufffd', topic: 'nrec/v1/\ufffd' });
    });

    it('keeps the latest result of a command request', async () => {
      const { store } = await fresh();
      const d = new TestDevice('dev-r');
      await store.commit([d.result('req-9', 'ok', { rx: T0 + 10, result: 1 })], []);
      await store.commit([d.result('req-9', 'error', { rx: T0 + 5, reason: 'older' })], []);
      expect((await store.results('req-9')).map((r) => r.status)).toEqual(['ok']);
      await store.commit([d.result('req-9', 'refused', { rx: T0 + 20, reason: 'newer' }), d.result('req-9', 'unknown', { rx: T0 + 15 })], []);
      expect((await store.results('req-9')).map((r) => [r.status, r.reason])).toEqual([['refused', 'newer']]);
      expect(await store.results('req-none')).toEqual([]);
    });

    it('runs platform-state statements in one transaction: RETURNING, compare-and-set, all or nothing', async () => {
      const { store } = await fresh();
      const row = (id: string, version: number) => ({
        sql: 'INSERT INTO commands (request_id, device_id, name, args, sent_at, expires_at, status, publishes, next_publish_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING request_id',
        params: [id, 'dev-c', 'ping', '{}', T0, T0 + HOUR, 'pending', 0, T0, version],
      });
      const first = await store.transact([row('c-1', 1), row('c-2', 1)]);
      expect(first?.map((o) => [o.changes, o.rows])).toEqual([[1, [{ request_id: 'c-1' }]], [1, [{ request_id: 'c-2' }]]]);
      expect((await store.transact([row('c-1', 1)]))?.[0]).toEqual({ changes: 0, rows: [] });

      const claim = (version: number) => ({ sql: 'UPDATE commands SET version = version + 1, publishes = publishes + 1 WHERE request_id = ? AND version = ?', params: ['c-1', version], mustChange: true });
      const later = { sql: 'UPDATE commands SET status = ? WHERE request_id = ?', params: ['ok', 'c-2'] };
      expect(await store.transact([claim(1)])).toEqual([{ changes: 1, rows: [] }]);
      // The same claim again changes nothing: rolled back as a whole, including a statement before it.
      expect(await store.transact([later, claim(1)])).toBeUndefined();
      const back = await store.select('SELECT request_id, status, publishes, version, expires_at FROM commands WHERE device_id = ? ORDER BY request_id', ['dev-c']);
      expect(back).toEqual([
        { request_id: 'c-1', status: 'pending', publishes: 1, version: 2, expires_at: T0 + HOUR },
        { request_id: 'c-2', status: 'pending', publishes: 0, version: 1, expires_at: T0 + HOUR },
      ]);
      // Concurrent claims of one version: exactly one wins.
      const claims = await Promise.all([0, 1, 2, 3].map(() => store.transact([claim(2)])));
      expect(claims.filter((c) => c !== undefined)).toHaveLength(1);
      // A failing statement rejects with a StoreError and keeps nothing of the transaction.
      await expect(store.transact([later, { sql: 'INSERT INTO commands (request_id) VALUES (?)', params: ['c-3'] }])).rejects.toBeInstanceOf(StoreError);
      expect((await store.select('SELECT status FROM commands WHERE request_id = ?', ['c-2']))[0].status).toBe('pending');
    });

    it('keeps API tokens by id, hashed, and revokes each once', async () => {
      const { store } = await fresh();
      const hash = 'a'.repeat(64);
      await store.createToken({ id: '0123456789abcdef', name: 'desk-1', role: 'operator', hash, createdAt: T0 });
      await store.createToken({ id: 'fedcba9876543210', name: 'ci', role: 'admin', hash: 'b'.repeat(64), createdAt: T0 + 1, expiresAt: T0 + 86_400_000 });
      expect(await store.token('0123456789abcdef')).toEqual({ id: '0123456789abcdef', name: 'desk-1', role: 'operator', hash, createdAt: T0 });
      expect(await store.token('0000000000000000')).toBeUndefined();
      await expect(store.createToken({ id: '0123456789abcdef', name: 'again', role: 'viewer', hash, createdAt: T0 })).rejects.toThrow();
      expect(await store.revokeToken('0123456789abcdef', T0 + 5)).toBe(true);
      expect(await store.revokeToken('0123456789abcdef', T0 + 6)).toBe(false);
      expect(await store.revokeToken('0000000000000000', T0 + 6)).toBe(false);
      await store.touchToken('fedcba9876543210', T0 + 7);
      expect((await store.tokens()).map((t) => [t.name, t.revokedAt, t.expiresAt, t.lastUsedAt])).toEqual([
        ['desk-1', T0 + 5, undefined, undefined],
        ['ci', undefined, T0 + 86_400_000, T0 + 7],
      ]);
    });

    it('applies migrations once: reopening and two processes opening a new database at once', async () => {
      const url = await h.freshUrl();
      // Two processes and this one open the new database together (each applies what is pending, or finds it applied).
      const writers = await Promise.all([0, 1].map((s) => StoreWriter.start(url, [[new TestDevice(`dev-m${s}`).health(1)]], `${tmp.path}/mig-${h.backend}-${s}.json`)));
      for (const w of writers) cleanup.add(w, (x) => x.kill());
      await Promise.all(writers.map((w) => w.ready()));
      const [s1, ...stored] = await Promise.all([openStore(url), ...writers.map((w) => w.go())]);
      cleanup.add(s1, (s) => s.close());
      expect(stored.map((r) => r[0])).toEqual([[true], [true]]);
      const s2 = cleanup.add(await openStore(url), (s) => s.close());
      expect((await s2.counts()).devices).toBe(2);
      expect((await s1.counts()).messages).toEqual({ health: 2 });
      const expected = (h.backend === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS).map((m) => m.version);
      expect(await h.migrationsApplied(url)).toEqual(expected);
    });
  });
}
