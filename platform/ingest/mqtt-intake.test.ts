import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { Cleanup, freePort, Mosquitto, waitFor } from '../../test/support/index.js';
import { IntakeConnection, type InboundPublish } from './mqtt-intake.js';

const logger = createLogger('test', { level: 'silent' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function publisher(url: string, clientId = 'dev-1') {
  const c = await mqtt.connectAsync(url, { clientId, clean: true, reconnectPeriod: 100 });
  cleanup.add(c, (x) => x.endAsync(true));
  return c;
}

function intake(url: string, onBatch: (b: InboundPublish[]) => Promise<void>, extra: Partial<ConstructorParameters<typeof IntakeConnection>[0]> = {}) {
  const conn = new IntakeConnection({
    url, clientId: 'nrec-ingest-test', clean: false, protocolVersion: 4, subscriptions: ['nrec/v1/+/location'], logger,
    backoffMinMs: 50, backoffMaxMs: 200, onBatch, ...extra,
  });
  cleanup.add(conn, (c) => c.stop());
  return conn;
}

const connected = (c: IntakeConnection) => new Promise<{ sessionPresent: boolean }>((r) => c.once('connect', r));

describe('IntakeConnection (a real Mosquitto with its default settings)', () => {
  it('hands over what arrived together as one batch, in order, and acknowledges only after the batch is handled', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const batches: string[][] = [];
    let release: (() => void) | undefined;
    const conn = intake(broker.url, async (b) => {
      batches.push(b.map((p) => p.payload.toString()));
      // Hold the first batch: the broker must not get a PUBACK meanwhile, so its in-flight window fills.
      if (batches.length === 1) await new Promise<void>((r) => { release = r; });
    });
    const up = connected(conn);
    conn.start();
    await up;
    const dev = await publisher(broker.url);
    const N = 300;
    await Promise.all(Array.from({ length: N }, (_, i) => dev.publishAsync('nrec/v1/dev-1/location', String(i), { qos: 1 })));
    await waitFor('the first batch', () => release);
    release!();
    await waitFor('every message', () => batches.flat().length >= N || undefined, 20_000);
    const all = batches.flat();
    expect(all).toEqual(Array.from({ length: N }, (_, i) => String(i)));
    // Group commit: far fewer hand-overs than messages (Mosquitto has 20 in flight to us by default).
    expect(batches.length).toBeLessThan(N / 5);
    expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThan(1);
  });

  it('a batch that fails is not acknowledged: the broker delivers it again after the reconnect', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const seen: string[] = [];
    let failures = 0;
    const conn = intake(broker.url, async (b) => {
      if (failures < 2) {
        failures++;
        throw new Error('database down');
      }
      seen.push(...b.map((p) => p.payload.toString()));
    });
    const up = connected(conn);
    conn.start();
    await up;
    const dev = await publisher(broker.url);
    for (let i = 0; i < 10; i++) await dev.publishAsync('nrec/v1/dev-1/location', String(i), { qos: 1 });
    await waitFor('all ten stored', () => new Set(seen).size === 10 || undefined, 20_000);
    expect(failures).toBe(2);
    expect([...new Set(seen)].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
  });

  it('started before its broker: connects, subscribes and receives as soon as the broker is there; resubscribes after a broker restart that lost the session', async () => {
    const port = await freePort();
    const seen: string[] = [];
    const conn = intake(`mqtt://127.0.0.1:${port}`, async (b) => { seen.push(...b.map((p) => p.payload.toString())); });
    conn.start();
    const first = connected(conn);
    const broker = cleanup.add(await Mosquitto.start({ port }), (m) => m.dispose());
    expect((await first).sessionPresent).toBe(false);
    const dev = await publisher(broker.url);
    await dev.publishAsync('nrec/v1/dev-1/location', 'a', { qos: 1 });
    await waitFor('a', () => seen.includes('a') || undefined);
    // kill -9 with persistence off (the default): sessions and subscriptions are gone.
    await broker.kill9();
    const again = connected(conn);
    await broker.start();
    expect((await again).sessionPresent).toBe(false);
    await waitFor('the publisher back', () => dev.connected || undefined, 10_000);
    await dev.publishAsync('nrec/v1/dev-1/location', 'b', { qos: 1 });
    await waitFor('b after the restart', () => seen.includes('b') || undefined);
  });

  it('its own publishes resolve on PUBACK, and one made while disconnected goes out after the reconnect', async () => {
    // Persistence on (this test is about the intake's own re-send, not the broker's): the listener's
    // session survives the restart, so what the intake re-sends has somewhere to go.
    const broker = cleanup.add(await Mosquitto.start({ persistence: true }), (m) => m.dispose());
    const conn = intake(broker.url, async () => undefined);
    const up = connected(conn);
    conn.start();
    await up;
    const dev = await mqtt.connectAsync(broker.url, { clientId: 'listener', clean: false, reconnectPeriod: 100 });
    cleanup.add(dev, (x) => x.endAsync(true));
    const got: string[] = [];
    await dev.subscribeAsync('nrec/v1/dev-1/cmd/#', { qos: 1 });
    dev.on('message', (_t, p) => got.push(p.toString()));
    await conn.publish('nrec/v1/dev-1/cmd/ack', 'one');
    await broker.stop();
    const pending = conn.publish('nrec/v1/dev-1/cmd/ack', 'two');
    await broker.start();
    await pending;
    await waitFor('both at the subscriber', () => (got.includes('one') && got.includes('two')) || undefined, 10_000);
  });

  it('bad credentials are fatal (retrying cannot fix them), named with a hint', async () => {
    const broker = cleanup.add(await Mosquitto.start({ listenerConfig: 'listener {port} 127.0.0.1\nallow_anonymous false' }), (m) => m.dispose());
    const conn = intake(broker.url, async () => undefined, { username: 'nobody', password: 'wrong' });
    const fatal = new Promise<{ kind: string; message: string; hint?: string }>((r) => conn.once('fatal', r));
    conn.start();
    const f = await fatal;
    expect(f.kind).toBe('not-authorized');
    expect(f.message).toMatch(/CONNACK 5/);
    expect(f.hint).toMatch(/ACL|certificate/);
  });
});
