// The embedded broker (real aedes on a real socket) against real MQTT 3.1.1
// clients: who may connect with which client id, publish what and subscribe
// to what. What a client receives is the far end: a forged message must not
// arrive, and the forger's connection must stay up (no flapping).
import { writeFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkClientId, deviceTopic, inboundFilter, inboundTopic } from '../../protocol/index.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
import { passwordEntry } from './password-file.js';

const PLATFORM = 'ingest.nrec';
const pw: Record<string, string> = { [PLATFORM]: 'platform-secret', 'dev-a': 'a-secret', 'dev-b': 'b-secret' };

const cleanup = new Cleanup();
let broker: EmbeddedBroker;

beforeAll(async () => {
  const dir = cleanup.add(await makeTempDir('nrec-aedes-'), (d) => d.remove());
  const file = dir.file('passwd');
  await writeFile(file, `${Object.entries(pw).map(([u, p]) => passwordEntry(u, p)).join('\n')}\n`, { mode: 0o600 });
  broker = cleanup.add(await startEmbeddedBroker({ passwordFile: file, platformUsers: [PLATFORM] }), (b) => b.close());
});
afterAll(() => cleanup.run());

/** Connects once (no reconnects), MQTT 3.1.1; resolves once connected, rejects with the CONNACK refusal. */
async function connect(username: string | undefined, clientId: string, password = username === undefined ? undefined : pw[username]): Promise<MqttClient> {
  const c = await mqtt.connectAsync(broker.url, { username, password, clientId, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 5000 }, false);
  cleanup.add(c, (x) => x.endAsync(true));
  return c;
}

/** Everything a client receives, and a wait for one message. */
function inbox(c: MqttClient) {
  const got: Array<{ topic: string; payload: string }> = [];
  c.on('message', (topic, p) => got.push({ topic, payload: p.toString() }));
  return {
    got,
    next: (topic: string, payload: string) => new Promise<void>((resolve) => {
      const on = (t: string, p: Buffer) => {
        if (t === topic && p.toString() === payload) {
          c.off('message', on);
          resolve();
        }
      };
      c.on('message', on);
    }),
  };
}

/** Subscribes and returns the QoS granted per filter (mqtt.js rejects when any is refused; the SUBACK is on the error). */
async function granted(c: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const suback = (err as { packet?: { granted?: number[] } }).packet;
    if (suback?.granted === undefined) throw err;
    return suback.granted;
  }
}

/** Counts 'close' events: a refused publish must not cost the client its connection. */
function closes(c: MqttClient): () => number {
  let n = 0;
  c.on('close', () => n++);
  return () => n;
}

describe('embedded broker: authentication', () => {
  it('refuses clients without a username, with a wrong password or an unknown user', async () => {
    await expect(connect(undefined, 'anon')).rejects.toMatchObject({ code: 4 });
    await expect(connect('dev-a', 'dev-a', 'wrong')).rejects.toMatchObject({ code: 4 });
    await expect(connect('dev-z', 'dev-z', 'whatever')).rejects.toMatchObject({ code: 4 });
  });

  it('binds a device to its own client ids: no impostor platform id, no takeover of another device', async () => {
    const b = await connect('dev-b', 'dev-b');
    const bCloses = closes(b);
    await expect(connect('dev-a', 'nrec-ingest-x')).rejects.toMatchObject({ code: 2 });
    await expect(connect('dev-a', 'dev-b')).rejects.toMatchObject({ code: 2 });
    await expect(connect('dev-a', bulkClientId('dev-b'))).rejects.toMatchObject({ code: 2 });
    await expect(connect('dev-a', '')).rejects.toMatchObject({ code: 2 });
    // dev-b was not taken over: it still gets its commands.
    const platform = await connect(PLATFORM, 'nrec-ingest-auth');
    const got = inbox(b);
    await b.subscribeAsync(inboundFilter('dev-b'), { qos: 1 });
    const arrived = got.next(inboundTopic('dev-b', 'req'), 'still here');
    await platform.publishAsync(inboundTopic('dev-b', 'req'), 'still here', { qos: 1 });
    await arrived;
    expect(bCloses()).toBe(0);
  });

  it('lets a device hold its control and bulk connections at once', async () => {
    const control = await connect('dev-a', 'dev-a');
    const bulk = await connect('dev-a', bulkClientId('dev-a'));
    const platform = await connect(PLATFORM, 'nrec-ingest-bulk');
    const seen = inbox(platform);
    await platform.subscribeAsync('nrec/v1/+/#', { qos: 1 });
    const part = seen.next(deviceTopic('dev-a', 'media', 'part'), 'bytes');
    await bulk.publishAsync(deviceTopic('dev-a', 'media', 'part'), 'bytes', { qos: 1 });
    await part;
    const loc = seen.next(deviceTopic('dev-a', 'location'), 'here');
    await control.publishAsync(deviceTopic('dev-a', 'location'), 'here', { qos: 1 });
    await loc;
    expect(control.connected && bulk.connected).toBe(true);
  });
});

describe('embedded broker: publishes', () => {
  it('acknowledges and drops what a device may not publish (QoS 1), without closing its connection', async () => {
    const a = await connect('dev-a', 'dev-a');
    const aCloses = closes(a);
    const b = await connect('dev-b', 'dev-b');
    const bGot = inbox(b);
    await b.subscribeAsync(inboundFilter('dev-b'), { qos: 1 });
    const platform = await connect(PLATFORM, 'nrec-ingest-pub');
    const pGot = inbox(platform);
    await platform.subscribeAsync('nrec/v1/+/#', { qos: 1 });

    // Each resolves: the PUBACK came (a device retrying an unconfirmed message must not loop on a closed connection).
    await a.publishAsync(inboundTopic('dev-b', 'ack'), '{"forged":"ack"}', { qos: 1 });
    await a.publishAsync(inboundTopic('dev-b', 'req'), '{"forged":"command"}', { qos: 1 });
    await a.publishAsync(inboundTopic('dev-a', 'ack'), '{"self":"ack"}', { qos: 1 });
    await a.publishAsync(deviceTopic('dev-b', 'alarm'), '{"forged":"alarm"}', { qos: 1 });
    await a.publishAsync(deviceTopic('dev-b', 'status'), '{"forged":"retained"}', { qos: 1, retain: true });
    await a.publishAsync('$SYS/x', 'nope', { qos: 1 });
    await a.publishAsync('other/topic', 'nope', { qos: 0 });

    // Barriers: each forged message, had it been routed, would have arrived before these.
    const toB = bGot.next(inboundTopic('dev-b', 'req'), 'real');
    await platform.publishAsync(inboundTopic('dev-b', 'req'), 'real', { qos: 1 });
    await toB;
    const fromA = pGot.next(deviceTopic('dev-a', 'event'), 'mine');
    await a.publishAsync(deviceTopic('dev-a', 'event'), 'mine', { qos: 1 });
    await fromA;
    expect(bGot.got).toEqual([{ topic: inboundTopic('dev-b', 'req'), payload: 'real' }]);
    // The platform reads device streams and cmd/ alike: it saw its own command and dev-a's event, nothing forged.
    expect(pGot.got.map((m) => m.payload)).toEqual(['real', 'mine']);
    expect(aCloses()).toBe(0);
    expect(a.connected).toBe(true);

    // The forged retained status was not kept either.
    const late = await connect(PLATFORM, 'nrec-ingest-late');
    const lateGot = inbox(late);
    await late.subscribeAsync(deviceTopic('dev-b', 'status'), { qos: 1 });
    const marker = lateGot.next(deviceTopic('dev-b', 'status'), 'genuine');
    await b.publishAsync(deviceTopic('dev-b', 'status'), 'genuine', { qos: 1 });
    await marker;
    expect(lateGot.got.map((m) => m.payload)).toEqual(['genuine']);
  });

  it('keeps the bulk connection to media headers and parts', async () => {
    const bulk = await connect('dev-b', bulkClientId('dev-b'));
    const platform = await connect(PLATFORM, 'nrec-ingest-bulkonly');
    const got = inbox(platform);
    await platform.subscribeAsync('nrec/v1/+/#', { qos: 1 });
    await bulk.publishAsync(deviceTopic('dev-b', 'alarm'), 'alarm on bulk', { qos: 1 });
    await bulk.publishAsync(deviceTopic('dev-b', 'media', 'manifest'), 'manifest on bulk', { qos: 1 });
    const chunk = got.next(deviceTopic('dev-b', 'media', 'chunk'), 'header');
    await bulk.publishAsync(deviceTopic('dev-b', 'media', 'chunk'), 'header', { qos: 1 });
    await chunk;
    expect(got.got.map((m) => m.payload)).toEqual(['header']);
  });

  it('lets the platform command any device but not publish as one', async () => {
    const a = await connect('dev-a', 'dev-a');
    const aGot = inbox(a);
    await a.subscribeAsync(inboundFilter('dev-a'), { qos: 1 });
    const platform = await connect(PLATFORM, 'nrec-ingest-cmd');
    const watcher = await connect(PLATFORM, 'nrec-ingest-watch');
    const wGot = inbox(watcher);
    await watcher.subscribeAsync('nrec/v1/+/#', { qos: 1 });
    await platform.publishAsync(deviceTopic('dev-a', 'alarm'), 'platform posing as dev-a', { qos: 1 });
    const acks = [aGot.next(inboundTopic('dev-a', 'ack'), 'ack'), wGot.next(inboundTopic('dev-a', 'ack'), 'ack')];
    await platform.publishAsync(inboundTopic('dev-a', 'ack'), 'ack', { qos: 1 });
    await Promise.all(acks);
    expect(wGot.got.map((m) => m.payload)).toEqual(['ack']);
  });
});

describe('embedded broker: subscriptions', () => {
  it('grants a device its own cmd/ subtree only, and delivers nothing else to it', async () => {
    const a = await connect('dev-a', 'dev-a');
    const got = inbox(a);
    expect(await granted(a, ['nrec/v1/dev-a/cmd/#', 'nrec/v1/dev-b/cmd/#', 'nrec/v1/+/cmd/#', 'nrec/v1/dev-b/location', '#'])).toEqual([1, 128, 128, 128, 128]);
    const b = await connect('dev-b', 'dev-b');
    const platform = await connect(PLATFORM, 'nrec-ingest-sub');
    await platform.publishAsync(inboundTopic('dev-b', 'req'), 'for b', { qos: 1 });
    await b.publishAsync(deviceTopic('dev-b', 'location'), 'b is here', { qos: 1 });
    const mine = got.next(inboundTopic('dev-a', 'req'), 'for a');
    await platform.publishAsync(inboundTopic('dev-a', 'req'), 'for a', { qos: 1 });
    await mine;
    expect(got.got).toEqual([{ topic: inboundTopic('dev-a', 'req'), payload: 'for a' }]);
    expect(a.connected).toBe(true);
  });

  it('grants the bulk connection nothing and the platform the device streams', async () => {
    const bulk = await connect('dev-a', bulkClientId('dev-a'));
    expect(await granted(bulk, [inboundFilter('dev-a')])).toEqual([128]);
    const platform = await connect(PLATFORM, 'nrec-ingest-subs');
    expect(await granted(platform, ['nrec/v1/+/#', 'nrec/v1/+/alarm', '#', '$SYS/#'])).toEqual([1, 1, 128, 128]);
  });
});
