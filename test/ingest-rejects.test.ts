import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Ingest, readStream } from '../platform/ingest/index.js';
import { Cleanup, Mosquitto, makeTempDir, nextStored, waitFor } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const loc = (deviceId: string, id: string) =>
  JSON.stringify({ v: 1, id, deviceId, bootId: 'b1', seq: 0, ts: Date.now(), fix: { lat: 35.1, lon: 139.2, time: Date.now(), fixType: '3d' } });

describe('ingest input validation', () => {
  it('rejects malformed and mismatched messages with reasons, then stores the next good one', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const ingest = cleanup.add(await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, logger: createLogger('ingest', { level: 'silent' }) }), (i) => i.stop());
    await ingest.start();
    const device = cleanup.add(await mqtt.connectAsync(broker.url, { clientId: 'dev-a' }), (c) => c.endAsync());

    await device.publishAsync('nrec/v1/dev-a/location', '{"v":1, not json', { qos: 1 });
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-b', 'm1'), { qos: 1 });
    await device.publishAsync('nrec/v1/dev-a/location', JSON.stringify({ v: 1, id: 'm2', deviceId: 'dev-a' }), { qos: 1 });
    const good = nextStored<{ id: string }>(ingest, 'location');
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'm3'), { qos: 1 });
    expect((await good).id).toBe('m3');

    await waitFor('three rejects', () => ingest.stats.rejected === 3);
    expect(ingest.stats.rejectReasons).toEqual({ 'not-json': 1, 'device-mismatch': 1, schema: 1 });
    const stored = readStream(dir.path, 'dev-a', 'location');
    expect(stored.map((r) => (r.m as { id: string }).id)).toEqual(['m3']);
    const rejected = await ingest.store.rejected();
    expect(rejected.map((r) => r.category)).toEqual(['not-json', 'device-mismatch', 'schema']);
    expect(rejected.map((r) => r.detail).join('\n')).toMatch(/payload deviceId "dev-b" differs from topic device "dev-a"/);
    expect(rejected.map((r) => r.detail).join('\n')).toMatch(/\/fix/);
  });

  it('tells the device which of its messages it refused (so it stops sending them), and refuses an oversized one without reading it as JSON', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const ingest = cleanup.add(await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, logger: createLogger('ingest', { level: 'silent' }) }), (i) => i.stop());
    await ingest.start();
    const device = cleanup.add(await mqtt.connectAsync(broker.url, { clientId: 'dev-a' }), (c) => c.endAsync());
    const acks: Array<{ acked?: string[]; rejected?: Array<{ id: string; reason: string }> }> = [];
    await device.subscribeAsync('nrec/v1/dev-a/cmd/ack', { qos: 1 });
    device.on('message', (_t, p) => acks.push(JSON.parse(p.toString())));
    await device.publishAsync('nrec/v1/dev-a/location', JSON.stringify({ v: 1, id: 'bad-1', deviceId: 'dev-a' }), { qos: 1 });
    const huge = `{"v":1,"id":"huge-1","deviceId":"dev-a","pad":"${'x'.repeat(2 * 1024 * 1024)}"}`;
    await device.publishAsync('nrec/v1/dev-a/location', huge, { qos: 1 });
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'good-1'), { qos: 1 });
    await waitFor('confirmations for all three', () => {
      const refused = acks.flatMap((a) => a.rejected ?? []).map((r) => r.id);
      const stored = acks.flatMap((a) => a.acked ?? []);
      return (refused.includes('bad-1') && refused.includes('huge-1') && stored.includes('good-1')) || undefined;
    });
    expect(ingest.stats.rejectReasons).toEqual({ schema: 1, 'too-large': 1 });
    expect(acks.flatMap((a) => a.rejected ?? []).find((r) => r.id === 'huge-1')?.reason).toMatch(/^too-large: 2097\d+ bytes/);
  });

  it('remembers what it stored across a restart: a message redelivered to a new ingest process on the same store is stored once', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const log = createLogger('ingest', { level: 'silent' });
    const first = await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, logger: log });
    await first.start();
    const device = cleanup.add(await mqtt.connectAsync(broker.url, { clientId: 'dev-a' }), (c) => c.endAsync());
    const one = nextStored<{ id: string }>(first, 'location');
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'again'), { qos: 1 });
    await one;
    await first.stop();
    const second = cleanup.add(await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, logger: log }), (i) => i.stop());
    await second.start();
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'again'), { qos: 1 });
    const barrier = nextStored<{ id: string }>(second, 'location', (m) => m.id === 'after');
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'after'), { qos: 1 });
    await barrier;
    expect(second.stats.duplicates).toBe(1);
    expect(readStream(dir.path, 'dev-a', 'location').map((r) => (r.m as { id: string }).id)).toEqual(['again', 'after']);
  });

  it('refuses device ids that would land in the store folders (keys, evidence, _rejected) and stores nothing there', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const ingest = cleanup.add(await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, logger: createLogger('ingest', { level: 'silent' }) }), (i) => i.stop());
    await ingest.start();
    const device = cleanup.add(await mqtt.connectAsync(broker.url, { clientId: 'dev-x' }), (c) => c.endAsync());
    const reserved = ['keys', 'evidence', '_rejected', 'Keys'];
    for (const id of reserved) await device.publishAsync(`nrec/v1/${id}/location`, loc(id, `m-${id}`), { qos: 1 });
    const good = nextStored<{ id: string }>(ingest, 'location');
    await device.publishAsync('nrec/v1/dev-x/location', loc('dev-x', 'ok-1'), { qos: 1 });
    expect((await good).id).toBe('ok-1');
    await waitFor('the reserved ids rejected', () => ingest.stats.rejected === reserved.length);
    expect(ingest.stats.rejectReasons).toEqual({ 'bad-topic': reserved.length });
    for (const id of reserved) expect(readStream(dir.path, id, 'location'), id).toEqual([]);
    const rejected = await ingest.store.rejected();
    expect(rejected.map((r) => r.detail).join('\n')).toMatch(/device id "keys" is reserved/);
    expect(rejected.map((r) => r.detail).join('\n')).toMatch(/device id "_rejected" is not valid: it may not start with "_"/);
  });

  it('stores a redelivered message once', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const ingest = cleanup.add(await Ingest.open({ brokerUrl: broker.url, storeDir: dir.path, logger: createLogger('ingest', { level: 'silent' }) }), (i) => i.stop());
    await ingest.start();
    const device = cleanup.add(await mqtt.connectAsync(broker.url, { clientId: 'dev-a' }), (c) => c.endAsync());
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'same'), { qos: 1 });
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'same'), { qos: 1 });
    const barrier = nextStored<{ id: string }>(ingest, 'location', (m) => m.id === 'after');
    await device.publishAsync('nrec/v1/dev-a/location', loc('dev-a', 'after'), { qos: 1 });
    await barrier;
    expect(ingest.stats.duplicates).toBe(1);
    expect(readStream(dir.path, 'dev-a', 'location')).toHaveLength(2);
  });
});
