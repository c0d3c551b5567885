import { describe, expect, it } from 'vitest';
import { ackedIds, deviceTopic } from '../../protocol/index.js';
import { createLogger } from '../../lib/logger.js';
import { MemoryStore } from '../store/memory-store.js';
import { toRanges, type Confirmation } from './confirmer.js';
import { Intake } from './intake.js';
import type { InboundPublish } from './mqtt-intake.js';

const logger = createLogger('test', { level: 'silent' });

function loc(deviceId: string, seq: number, bootId = 'boot1') {
  return { v: 1, id: `${bootId}-loc-${seq}`, deviceId, bootId, seq, ts: 1_700_000_000_000 + seq, fix: { lat: 52, lon: 13, time: 1_700_000_000_000 + seq, fixType: '3d' } };
}
const pub = (topic: string, body: unknown): InboundPublish => ({ topic, payload: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), qos: 1, dup: false, retain: false });

function setup() {
  const store = new MemoryStore();
  const intake = new Intake({ store, logger });
  const confirmations: Confirmation[] = [];
  intake.on('confirm', (cs) => confirmations.push(...cs));
  return { store, intake, confirmations };
}

describe('Intake', () => {
  it('commits a batch once, then confirms every id to its device as ranges; a repeat is a duplicate, confirmed again', async () => {
    const { store, intake, confirmations } = setup();
    const batch = [...Array(10)].map((_, i) => pub(deviceTopic('dev-1', 'location'), loc('dev-1', i)));
    await intake.handleBatch(batch);
    expect(store.commits).toBe(1);
    expect(confirmations).toHaveLength(1);
    expect(confirmations[0]).toMatchObject({ deviceId: 'dev-1', ranges: [{ prefix: 'boot1-loc', first: 0, last: 9 }], acked: [] });
    await intake.handleBatch(batch.slice(3, 5));
    expect(intake.stats).toMatchObject({ duplicates: 2, accepted: { location: 10 } });
    expect(ackedIds(confirmations[1])).toEqual(['boot1-loc-3', 'boot1-loc-4']);
    expect((await store.messages('dev-1', 'location')).map((m) => m.m.seq)).toEqual([...Array(10)].map((_, i) => i));
  });

  it('the same message twice in one batch is stored once', async () => {
    const { store, intake } = setup();
    const m = pub(deviceTopic('dev-1', 'location'), loc('dev-1', 0));
    await intake.handleBatch([m, m]);
    expect(await store.messages('dev-1', 'location')).toHaveLength(1);
    expect(intake.stats.duplicates).toBe(1);
  });

  it('rejects bad input with counted reasons, records it, tells the device which ids it refused, and stores the good ones of the same batch', async () => {
    const { store, intake, confirmations } = setup();
    const badSchema = { ...loc('dev-1', 1), fix: { lat: 200, lon: 0, time: 0, fixType: '3d' } };
    await intake.handleBatch([
      pub('nrec/v1/dev-1/nonsense', '{}'),
      pub(deviceTopic('dev-1', 'location'), '{not json'),
      pub(deviceTopic('dev-1', 'location'), badSchema),
      pub(deviceTopic('dev-1', 'location'), loc('dev-2', 2)),
      pub(deviceTopic('dev-1', 'location'), loc('dev-1', 3)),
    ]);
    expect(intake.stats.rejectReasons).toEqual({ 'bad-topic': 1, 'not-json': 1, schema: 1, 'device-mismatch': 1 });
    expect((await store.rejected()).map((r) => r.category)).toEqual(['bad-topic', 'not-json', 'schema', 'device-mismatch']);
    expect((await store.messages('dev-1', 'location')).map((m) => m.m.id)).toEqual(['boot1-loc-3']);
    const c = confirmations.find((x) => x.deviceId === 'dev-1')!;
    expect(c.acked).toEqual(['boot1-loc-3']);
    // Only the schema failure had an id of this device's own to refuse; another device's id is never confirmed to it.
    expect(c.rejected.map((r) => r.id)).toEqual(['boot1-loc-1']);
    expect(c.rejected[0].reason).toMatch(/^schema: .*\/fix\/lat/);
  });

  it('a failed commit stores nothing, counts nothing, confirms nothing, and throws (so nothing is PUBACKed)', async () => {
    const { store, intake, confirmations } = setup();
    store.failWith = new Error('database is down');
    const stored: unknown[] = [];
    intake.on('stored', (...a) => stored.push(a));
    await expect(intake.handleBatch([pub(deviceTopic('dev-1', 'location'), loc('dev-1', 0))])).rejects.toThrow('database is down');
    expect(confirmations).toEqual([]);
    expect(stored).toEqual([]);
    expect(intake.stats.accepted).toEqual({});
    store.failWith = undefined;
    await intake.handleBatch([pub(deviceTopic('dev-1', 'location'), loc('dev-1', 0))]);
    expect(intake.stats.accepted).toEqual({ location: 1 });
  });

  it("ignores the platform's own presence, which matches the status subscription", async () => {
    const { store, intake } = setup();
    await intake.handleBatch([pub('nrec/v1/_platform/status', { v: 1, state: 'online', bootId: 'b', ts: 1 })]);
    expect(intake.stats).toMatchObject({ rejected: 0, accepted: {} });
    expect(await store.rejected()).toEqual([]);
  });

  it('a backfill batch is stored item by item, each confirmed', async () => {
    const { store, intake, confirmations } = setup();
    const items = [0, 1, 2, 3].map((i) => loc('dev-1', i));
    await intake.handleBatch([pub(deviceTopic('dev-1', 'location', 'batch'), { v: 1, deviceId: 'dev-1', backfill: true, items })]);
    const back = await store.messages('dev-1', 'location');
    expect(back.map((m) => [m.m.seq, m.m.backfill])).toEqual([[0, true], [1, true], [2, true], [3, true]]);
    expect(ackedIds(confirmations[0])).toEqual(items.map((i) => i.id));
  });
});

describe('toRanges', () => {
  it('turns runs of three or more consecutive seqs into ranges and keeps the rest (and odd ids) as they are', () => {
    const { ranges, singles } = toRanges(['a-1', 'a-2', 'a-3', 'a-5', 'b-9', 'b-10', 'x', 'c-007', 'a-4']);
    expect(ranges).toEqual([{ prefix: 'a', first: 1, last: 5 }]);
    expect(singles.sort()).toEqual(['b-10', 'b-9', 'c-007', 'x']);
  });
});
