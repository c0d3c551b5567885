// The live stream over real HTTP (Server-Sent Events parsed as EventSource
// does): a device speaking the protocol through a real Mosquitto, the
// platform's ingest, desk and API in this process. A position and an alarm
// reach the stream within a second of the device's publish; the desk's
// acknowledgement follows; the will, a reconnection and silence show as
// device state; a reconnecting client resumes with Last-Event-ID.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '../protocol/index.js';
import { STREAM_EVENT_SCHEMAS, type StreamEventName } from '../protocol/api.js';
import { call, DeviceStandIn, makeToken, startApiPlatform, type ApiPlatform } from './support/api.js';
import { Cleanup, makeTempDir, Mosquitto, waitFor } from './support/index.js';
import { SseClient, type SseEvent } from './support/sse.js';

const cleanup = new Cleanup();
let mosquitto: Mosquitto;
let api: ApiPlatform;
let viewer: string;
let op: string;

const schemas = Object.fromEntries(Object.entries(STREAM_EVENT_SCHEMAS).map(([k, s]) => [k, new Validator(s)])) as Record<StreamEventName, Validator<any>>;

/** Every event's data is what the document says that event carries. */
function documented(events: SseEvent[]): void {
  for (const e of events) expect(schemas[e.event as StreamEventName]?.check(e.data), `${e.event}: ${JSON.stringify(e.data).slice(0, 200)}`).toMatchObject({ ok: true });
}

async function stream(o: { lastEventId?: string; query?: string; url?: string } = {}): Promise<SseClient> {
  const s = cleanup.add(await SseClient.open(`${o.url ?? api.url}/api/stream${o.query ?? ''}`, { token: viewer, lastEventId: o.lastEventId }), (c) => c.close());
  expect(s.status).toBe(200);
  expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  await s.next((e) => e.event === 'hello');
  return s;
}

beforeAll(async () => {
  mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  const dir = cleanup.add(await makeTempDir('nrec-api-stream-'), (d) => d.remove());
  api = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.path }), (a) => a.stop());
  await waitFor('ingest connected', () => api.platform.ingest.connected);
  viewer = await makeToken(api.store, 'viewer', 'wall-screen');
  op = await makeToken(api.store, 'operator', 'op-1');
}, 60_000);
afterAll(() => cleanup.run());

describe('live stream', () => {
  it('delivers a position and an alarm within a second of the device publishing them, then the acknowledgement', async () => {
    const dev = cleanup.add(await DeviceStandIn.connect(mosquitto.url, 'dev-live'), (d) => d.close());
    const s = await stream();
    expect(s.events[0].data).toMatchObject({ resumed: false, silenceMs: 120_000 });

    const t1 = Date.now();
    const loc = await dev.location(52.52, 13.405);
    const pos = await s.next((e) => e.event === 'position' && e.data.position.msgId === loc.id, 2000);
    expect(pos.at - t1).toBeLessThan(1000);
    expect(pos.data).toMatchObject({ deviceId: 'dev-live', position: { lat: 52.52, lon: 13.405, accuracyM: 4, fixType: '3d', reason: 'interval', stale: false, backfill: false } });

    const t2 = Date.now();
    await dev.alarm('sos-live', 'raised');
    const raised = await s.next((e) => e.event === 'alarm' && e.data.alarmId === 'sos-live', 2000);
    expect(raised.at - t2).toBeLessThan(1000);
    expect(raised.data).toMatchObject({ deviceId: 'dev-live', state: 'raised', deviceState: 'raised', batteryPct: 77, lastFix: { lat: 52.52 } });

    const n = s.events.length;
    const ack = await call(api.url, '/api/alarms/sos-live/ack', { method: 'POST', token: op });
    expect(ack.status).toBe(200);
    const acked = await s.next((e) => e.event === 'alarm' && e.data.state === 'acknowledged', 2000, n);
    expect(acked.data).toMatchObject({ alarmId: 'sos-live', acknowledgedBy: 'op-1' });
    // The device got alarm.ack; its answer and its own acknowledged state come back through the stream too.
    await waitFor('alarm.ack at the device', () => dev.commands.find((c) => c.name === 'alarm.ack' && c.args?.alarmId === 'sos-live'));
    await dev.alarm('sos-live', 'acknowledged');
    await s.next((e) => e.event === 'alarm' && e.data.deviceState === 'acknowledged' && e.data.ackCommand?.status === 'ok', 3000, n);
    await dev.health(55);
    await s.next((e) => e.event === 'health' && e.data.health.batteryPct === 55);
    documented(s.events);
    expect(new Set(s.events.filter((e) => e.id !== undefined).map((e) => e.id)).size).toBe(s.events.filter((e) => e.id !== undefined).length);
  });

  it('shows a device going offline by its will, and coming back with a birth', async () => {
    const s = await stream();
    let dev = await DeviceStandIn.connect(mosquitto.url, 'dev-will');
    await dev.birth();
    await dev.location(1, 2);
    await s.next((e) => e.event === 'device' && e.data.deviceId === 'dev-will' && e.data.status === 'online');
    dev.kill();
    const off = await s.next((e) => e.event === 'device' && e.data.deviceId === 'dev-will' && e.data.status === 'offline', 15_000);
    expect(off.data).toMatchObject({ offlineCause: 'will', presence: { state: 'offline', bootId: dev.bootId } });
    dev = cleanup.add(await DeviceStandIn.connect(mosquitto.url, 'dev-will'), (d) => d.close());
    const n = s.events.length;
    await dev.birth();
    const back = await s.next((e) => e.event === 'device' && e.data.deviceId === 'dev-will' && e.data.status === 'online', 5000, n);
    expect(back.data.presence).toMatchObject({ state: 'online', bootId: dev.bootId });
    documented(s.events);
  });

  it('shows a device that went silent as offline (cause silent) without any will', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-api-silence-'), (d) => d.remove());
    const quick = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.path, api: { silenceMs: 1000 } }), (a) => a.stop());
    await waitFor('second ingest connected', () => quick.platform.ingest.connected);
    const token = await makeToken(quick.store, 'viewer', 'v');
    const s = cleanup.add(await SseClient.open(`${quick.url}/api/stream?types=device`, { token }), (c) => c.close());
    const dev = cleanup.add(await DeviceStandIn.connect(mosquitto.url, 'dev-quiet'), (d) => d.close());
    await dev.birth();
    await s.next((e) => e.event === 'device' && e.data.deviceId === 'dev-quiet' && e.data.status === 'online');
    const last = Date.now();
    const silent = await s.next((e) => e.event === 'device' && e.data.deviceId === 'dev-quiet' && e.data.status === 'offline', 5000);
    expect(silent.data).toMatchObject({ offlineCause: 'silent', presence: { state: 'online' } });
    expect(silent.at - last).toBeGreaterThanOrEqual(1000);
    expect(silent.at - last).toBeLessThan(2500);
    await dev.location(3, 4);
    const back = await s.next((e) => e.event === 'device' && e.data.deviceId === 'dev-quiet' && e.data.status === 'online' && e.at > silent.at, 3000);
    expect(back.data.offlineCause).toBeUndefined();
  });

  it('resumes with Last-Event-ID: a reconnecting client gets what it missed; one it cannot resume is told to reload', async () => {
    const dev = cleanup.add(await DeviceStandIn.connect(mosquitto.url, 'dev-resume'), (d) => d.close());
    const first = await stream();
    const a = await dev.location(10, 10);
    const seen = await first.next((e) => e.event === 'position' && e.data.position.msgId === a.id);
    first.close();
    const missed = [await dev.location(10.1, 10), await dev.alarm('sos-resume', 'raised'), await dev.location(10.2, 10)];
    await waitFor('the missed messages streamed', () => api.platform.hub.replay(seen.id!)!.some((e) => e.event === 'position' && (e.data as any).position.msgId === missed[2].id));
    const expected = api.platform.hub.replay(seen.id!)!;
    const again = await stream({ lastEventId: seen.id });
    expect(again.events[0].data.resumed).toBe(true);
    await again.next((e) => e.event === 'position' && e.data.position.msgId === missed[2].id);
    const replayed = again.events.filter((e) => e.id !== undefined).slice(0, expected.length);
    expect(replayed.map((e) => [e.id, e.event])).toEqual(expected.map((e) => [e.id, e.event]));
    // Positions come in the order stored; the desk reports the alarm when it has read it back, so it may come after the next position.
    expect(replayed.filter((e) => e.event === 'position').map((e) => e.data.position.msgId)).toEqual([missed[0].id, missed[2].id]);
    expect(replayed.filter((e) => e.event === 'alarm').map((e) => e.data.alarmId)).toEqual(['sos-resume']);
    expect(replayed.some((e) => e.id === seen.id)).toBe(false);

    const stale = await stream({ lastEventId: 'restarted-12' });
    expect(stale.events[0].data.resumed).toBe(false);
    expect((await stale.next((e) => e.event === 'reset')).data.reason).toMatch(/cannot resume after restarted-12/);
  });

  it('ends an open stream whose token is revoked, telling the client why', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-api-revoke-'), (d) => d.remove());
    const quick = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.path, api: { streamRecheckMs: 200 } }), (a) => a.stop());
    const token = await makeToken(quick.store, 'viewer', 'leaver');
    const s = cleanup.add(await SseClient.open(`${quick.url}/api/stream`, { token }), (c) => c.close());
    await s.next((e) => e.event === 'hello');
    await quick.store.revokeToken((await quick.store.tokens()).find((t) => t.name === 'leaver')!.id, Date.now());
    const reset = await s.next((e) => e.event === 'reset', 3000);
    expect(reset.data.reason).toBe('the token was revoked or has expired');
    await waitFor('the stream ended', () => s.ended, 3000);
    expect((await call(quick.url, '/api/stream', { token })).status).toBe(401);
  });

  it('sends only the event types asked for', async () => {
    const dev = cleanup.add(await DeviceStandIn.connect(mosquitto.url, 'dev-types'), (d) => d.close());
    const s = await stream({ query: '?types=alarm' });
    await dev.location(5, 5);
    await dev.alarm('sos-types', 'raised');
    const alarm = await s.next((e) => e.event === 'alarm' && e.data.alarmId === 'sos-types');
    // The location was stored (and streamed) before the alarm; none reached this client.
    expect(s.events.filter((e) => e.at <= alarm.at).map((e) => e.event)).toEqual(['hello', 'alarm']);
  });
});
