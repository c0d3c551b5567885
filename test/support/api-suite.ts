import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ROUTES, type ApiRoute } from '../../protocol/api.js';
import { Validator } from '../../protocol/index.js';
import { chunkChain, chunkInput, DEVICE_PUBLIC_KEY, manifestFor, manifestInput, TestDevice } from '../../platform/store/store-fixtures.js';
import type { PositionView } from '../../platform/store/index.js';
import { call, DeviceStandIn, makeToken, startApiPlatform, undocumented, type Answer, type ApiPlatform } from './api.js';
import { Cleanup } from './cleanup.js';
import { parseCsv, readCsvPositions, readGeoJsonPositions } from './csv.js';
import { checkGpx11, readGpxPositions } from './gpx.js';
import { Mosquitto } from './mosquitto.js';
import { makeTempDir } from './temp.js';
import { waitFor } from './wait.js';
import { parseXml } from './xml.js';

/*
 * The API against one store back-end, end to end: a real Mosquitto, the
 * platform (ingest, alarm desk and command sender, API) on the store, real
 * HTTP. Every JSON answer is checked against the response schema the OpenAPI
 * document publishes. Run from test/api-sqlite.test.ts and
 * test/api-postgres.test.ts.
 */

export interface ApiSuiteHarness {
  backend: 'sqlite' | 'postgres';
  freshUrl(): Promise<string>;
}

/** Asserts the answer's status and that its body is what the document says that status returns. */
function documented<T>(route: ApiRoute, res: Answer<T>, status: number): T {
  expect(res.status, `${route.operationId}: ${res.text.slice(0, 300)}`).toBe(status);
  expect(undocumented(route, status, res.body), `${route.operationId} ${status}`).toEqual([]);
  return res.body;
}

const errorShape = new Validator(ApiError);

/** Asserts an error answer: its status, the documented error shape, its code; returns its message. */
function refused(res: Answer, status: number, code: string): string {
  expect(res.status, res.text).toBe(status);
  expect(errorShape.check(res.body)).toMatchObject({ ok: true });
  expect(res.body).toMatchObject({ statusCode: status, code });
  return (res.body as { message: string }).message;
}

/** Polls an async condition until it holds. */
async function poll<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function apiSuite(h: ApiSuiteHarness): void {
  describe(`API on ${h.backend}`, () => {
    const cleanup = new Cleanup();
    let mosquitto: Mosquitto;
    let api: ApiPlatform;
    let viewer: string;
    let op: string;
    let admin: string;
    const start = Date.now();
    /** What the platform published to devices (cmd/req), as the broker delivered it. */
    const published: Array<{ topic: string; msg: { id: string; name: string; args?: Record<string, unknown> } }> = [];

    beforeAll(async () => {
      mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
      const dir = cleanup.add(await makeTempDir(`nrec-api-${h.backend}-`), (d) => d.remove());
      const spy = cleanup.add(mqtt.connect(mosquitto.url, { clientId: 'cmd-spy', reconnectPeriod: 0 }), (c) => c.endAsync(true));
      await new Promise((resolve) => spy.once('connect', resolve));
      await spy.subscribeAsync('nrec/v1/+/cmd/req', { qos: 1 });
      spy.on('message', (topic, payload) => published.push({ topic, msg: JSON.parse(payload.toString('utf8')) }));
      api = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.path, db: await h.freshUrl() }), (a) => a.stop());
      await waitFor('ingest connected', () => api.platform.ingest.connected);
      viewer = await makeToken(api.store, 'viewer', 'view-1');
      op = await makeToken(api.store, 'operator', 'op-1');
      admin = await makeToken(api.store, 'admin', 'root');
    }, 60_000);
    afterAll(() => cleanup.run());

    it('lists devices with their online state: will, shutdown, silence, never seen; last seen, last position with age, last health', async () => {
      const on = new TestDevice('dev-on');
      const will = new TestDevice('dev-will');
      const bye = new TestDevice('dev-bye');
      const quiet = new TestDevice('dev-quiet');
      const t = Date.now();
      await api.store.commit([
        on.status('online', { rx: t - 60_000, agentVersion: '1.2.3' }), on.location({ time: t - 5000, accuracyM: 4.5 }, { rx: t - 4000 }), on.health(81, { rx: t - 3000 }),
        will.status('online', { rx: t - 50_000 }), will.status('offline', { rx: t - 20_000, reason: 'connection lost' }),
        bye.status('online', { rx: t - 50_000 }), bye.status('shutdown', { rx: t - 10_000 }),
        quiet.status('online', { rx: t - 600_000 }), quiet.location({ time: t - 600_000 }, { rx: t - 599_000 }),
      ], []);
      await api.store.registerDeviceKey('dev-new', DEVICE_PUBLIC_KEY);

      const list = documented(ROUTES.devices, await call(api.url, '/api/devices', { token: viewer }), 200) as any;
      expect(list.silenceMs).toBe(120_000);
      const by = Object.fromEntries(list.devices.map((d: any) => [d.id, d]));
      expect(by['dev-on']).toMatchObject({ status: 'online', agentVersion: '1.2.3', lastSeen: t - 3000, lastPosition: { accuracyM: 4.5, fixTime: t - 5000 }, lastHealth: { batteryPct: 81 } });
      expect(by['dev-on'].offlineCause).toBeUndefined();
      expect(by['dev-on'].lastPosition.ageMs).toBe(list.now - (t - 5000));
      expect(by['dev-on'].lastHealth.report.storage).toEqual({ freeBytes: 1e9, usedBytes: 1e6, quotaBytes: 5e8 });
      expect(by['dev-will']).toMatchObject({ status: 'offline', offlineCause: 'will', presence: { state: 'offline', reason: 'connection lost' } });
      expect(by['dev-bye']).toMatchObject({ status: 'offline', offlineCause: 'shutdown' });
      expect(by['dev-quiet']).toMatchObject({ status: 'offline', offlineCause: 'silent', presence: { state: 'online' } });
      expect(by['dev-quiet'].lastSeenAgeMs).toBeGreaterThan(120_000);
      expect(by['dev-new']).toMatchObject({ status: 'offline', offlineCause: 'never-seen', keyRegistered: true });

      const one = documented(ROUTES.device, await call(api.url, '/api/devices/dev-on', { token: viewer }), 200) as any;
      expect(one.device).toEqual({ ...by['dev-on'], lastSeenAgeMs: one.now - by['dev-on'].lastSeen, lastPosition: { ...by['dev-on'].lastPosition, ageMs: one.now - (t - 5000) }, lastHealth: { ...by['dev-on'].lastHealth, ageMs: one.now - (t - 3000) } });
      expect(refused(await call(api.url, '/api/devices/nobody', { token: viewer }), 404, 'not-found')).toMatch(/no device "nobody"/);
      expect(refused(await call(api.url, '/api/devices/bad.id', { token: viewer }), 400, 'invalid')).toMatch(/params\/deviceId/);

      const health = documented(ROUTES.health, await call(api.url, '/api/devices/dev-on/health', { token: viewer }), 200) as any;
      expect(health.reports.map((r: any) => r.batteryPct)).toEqual([81]);
    });

    it('exports positions over a time range as JSON, GeoJSON, GPX 1.1 and CSV, each giving back the same points', async () => {
      const d = new TestDevice('dev-track');
      const t0 = Date.UTC(2026, 0, 6, 9, 0, 0);
      const msgs = Array.from({ length: 30 }, (_, i) => d.location(
        { time: t0 + i * 1000, lat: 52.5 + i * 1e-4, lon: 13.4 - i * 1e-4, accuracyM: 3 + i / 10, speedMps: i / 7, courseDeg: (i * 13) % 360, satsUsed: 7, fixType: i % 5 === 0 ? 'estimated' : i % 3 === 0 ? 'rtk' : '3d', ...(i % 2 === 0 ? { altM: 34.5 + i } : {}) },
        { rx: t0 + i * 1000 + 80, backfill: i < 5, reason: 'interval' },
      ));
      await api.store.commit(msgs, []);
      const range = `from=${new Date(t0 + 5000).toISOString()}&to=${t0 + 25_000}`;
      const json = documented(ROUTES.positions, await call(api.url, `/api/devices/dev-track/positions?${range}`, { token: viewer }), 200) as any;
      expect(json).toMatchObject({ deviceId: 'dev-track', from: t0 + 5000, to: t0 + 25_000, limit: 1000, count: 20, truncated: false });
      expect(json.positions.map((p: PositionView) => p.fixTime)).toEqual(Array.from({ length: 20 }, (_, i) => t0 + (i + 5) * 1000));
      const points: PositionView[] = json.positions;

      const gpx = await call(api.url, `/api/devices/dev-track/positions?${range}&format=gpx`, { token: viewer });
      expect(gpx.status).toBe(200);
      expect(gpx.headers.get('content-type')).toBe('application/gpx+xml; charset=utf-8');
      expect(gpx.headers.get('content-disposition')).toBe('attachment; filename="dev-track-2026-01-06.gpx"');
      const doc = parseXml(gpx.text);
      expect(checkGpx11(doc)).toEqual([]);
      expect(readGpxPositions(doc)).toEqual(points);

      const csv = await call(api.url, `/api/devices/dev-track/positions?${range}&format=csv`, { token: viewer });
      expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(parseCsv(csv.text).length).toBe(21);
      expect(readCsvPositions(csv.text)).toEqual(points);

      const geo = await call(api.url, `/api/devices/dev-track/positions?${range}&format=geojson`, { token: viewer });
      expect(geo.headers.get('content-type')).toBe('application/geo+json; charset=utf-8');
      expect(readGeoJsonPositions(geo.body as any)).toEqual(points);

      const limited = documented(ROUTES.positions, await call(api.url, '/api/devices/dev-track/positions?limit=10', { token: viewer }), 200) as any;
      expect(limited).toMatchObject({ count: 10, truncated: true });
      expect(refused(await call(api.url, '/api/devices/dev-track/positions?from=2026-02-30', { token: viewer }), 400, 'invalid')).toMatch(/^from: .*not a valid date/);
      expect(refused(await call(api.url, `/api/devices/dev-track/positions?from=${t0 + 9}&to=${t0}`, { token: viewer }), 400, 'invalid')).toMatch(/must be before/);
      expect(refused(await call(api.url, '/api/devices/dev-track/positions?format=kml', { token: viewer }), 400, 'invalid')).toMatch(/format/);
      expect(refused(await call(api.url, '/api/devices/dev-none/positions', { token: viewer }), 404, 'not-found')).toMatch(/dev-none/);
    });

    it('shows alarms with desk state and device state; ack and resolve: who, alarm.ack sent, twice harmless, unknown 404, ambiguous 409', async () => {
      const a = new TestDevice('dev-al');
      const b = new TestDevice('dev-bl');
      const t = Date.now();
      await api.store.commit([
        a.alarm('sos-shared', 'raised', 0, { raisedAt: t - 9000, rx: t - 8000 }), b.alarm('sos-shared', 'raised', 0, { raisedAt: t - 7000, rx: t - 6000 }),
        a.alarm('sos-solo', 'raised', 0, { raisedAt: t - 5000, rx: t - 4900, batteryPct: 64, fix: { lat: 52.5, lon: 13.4, time: t - 5200, fixType: '3d', accuracyM: 6 } }),
        a.alarm('sos-solo', 'raised', 1, { raisedAt: t - 5000, rx: t - 3900 }),
        a.alarm('sos-gone', 'raised', 0, { raisedAt: t - 3000, rx: t - 2900 }), a.alarm('sos-gone', 'cancelled', 0, { raisedAt: t - 3000, rx: t - 2000 }),
      ], []);
      // Committed straight to the store, past the ingest: the desk takes them on at its next look.
      await api.platform.services.desk.poll();

      const ambiguous = await call(api.url, '/api/alarms/sos-shared', { token: viewer });
      expect(refused(ambiguous, 409, 'ambiguous-alarm')).toBe('alarm id "sos-shared" is used by 2 devices (dev-al, dev-bl): give ?deviceId=');
      expect((ambiguous.body as any).devices).toEqual(['dev-al', 'dev-bl']);
      expect(refused(await call(api.url, '/api/alarms/sos-shared/ack', { method: 'POST', token: op }), 409, 'ambiguous-alarm')).toMatch(/2 devices/);
      const shared = documented(ROUTES.alarm, await call(api.url, '/api/alarms/sos-shared?deviceId=dev-bl', { token: viewer }), 200) as any;
      expect(shared).toMatchObject({ deviceId: 'dev-bl', state: 'raised', deviceState: 'raised', raisedAt: t - 7000 });
      expect(refused(await call(api.url, '/api/alarms/sos-none', { token: viewer }), 404, 'unknown-alarm')).toBe('no alarm "sos-none" has been received from any device');
      expect(refused(await call(api.url, '/api/alarms/sos-none/ack', { method: 'POST', token: op }), 404, 'unknown-alarm')).toMatch(/sos-none/);
      expect(refused(await call(api.url, '/api/alarms/sos-solo/ack?deviceId=dev-bl', { method: 'POST', token: op }), 404, 'unknown-alarm')).toMatch(/^no alarm "sos-solo" (from|of) device "dev-bl"/);

      const solo = documented(ROUTES.alarm, await call(api.url, '/api/alarms/sos-solo', { token: viewer }), 200) as any;
      expect(solo).toMatchObject({ state: 'raised', resends: 1, batteryPct: 64, lastFix: { accuracyM: 6 }, attempts: [] });
      const acked = documented(ROUTES.ack, await call(api.url, '/api/alarms/sos-solo/ack', { method: 'POST', token: op }), 200) as any;
      expect(acked).toMatchObject({ already: false, alarm: { state: 'acknowledged', acknowledgedBy: 'op-1', deviceState: 'raised' } });
      expect(acked.alarm.history.map((x: any) => [x.state, x.by])).toEqual([['raised', undefined], ['acknowledged', 'op-1']]);
      const req = acked.alarm.ackCommand.requestId;
      const sent = await waitFor('alarm.ack at the broker', () => published.find((p) => p.msg.id === req));
      expect(sent).toMatchObject({ topic: 'nrec/v1/dev-al/cmd/req', msg: { name: 'alarm.ack', args: { alarmId: 'sos-solo' } } });
      const again = documented(ROUTES.ack, await call(api.url, '/api/alarms/sos-solo/ack', { method: 'POST', token: op, body: { by: 'Someone Else' } }), 200) as any;
      expect(again).toMatchObject({ already: true, alarm: { acknowledgedBy: 'op-1' } });
      expect(published.filter((p) => p.msg.name === 'alarm.ack' && p.msg.args?.alarmId === 'sos-solo')).toHaveLength(1);

      const named = documented(ROUTES.ack, await call(api.url, '/api/alarms/sos-shared/ack?deviceId=dev-bl', { method: 'POST', token: op, body: { by: 'Nurse Ann' } }), 200) as any;
      expect(named.alarm.acknowledgedBy).toBe('Nurse Ann via op-1');
      expect(refused(await call(api.url, '/api/alarms/sos-gone/ack', { method: 'POST', token: op }), 409, 'not-open')).toMatch(/cancelled/);

      expect(refused(await call(api.url, '/api/alarms/sos-solo/resolve', { method: 'POST', token: op, body: {} }), 400, 'invalid')).toMatch(/note/);
      const resolved = documented(ROUTES.resolve, await call(api.url, '/api/alarms/sos-solo/resolve', { method: 'POST', token: op, body: { note: 'fell, no injury; colleague on site' } }), 200) as any;
      expect(resolved).toMatchObject({ already: false, alarm: { state: 'resolved', resolvedBy: 'op-1', note: 'fell, no injury; colleague on site' } });
      expect((documented(ROUTES.resolve, await call(api.url, '/api/alarms/sos-solo/resolve', { method: 'POST', token: op, body: { note: 'again' } }), 200) as any).already).toBe(true);

      const open = documented(ROUTES.alarms, await call(api.url, '/api/alarms?open=true', { token: viewer }), 200) as any;
      const openIds = open.alarms.map((x: any) => `${x.deviceId}/${x.alarmId}`);
      expect(openIds).toEqual(expect.arrayContaining(['dev-al/sos-shared', 'dev-bl/sos-shared']));
      expect(openIds).not.toContain('dev-al/sos-solo');
      expect(openIds).not.toContain('dev-al/sos-gone');
      const ofA = documented(ROUTES.alarms, await call(api.url, `/api/alarms?deviceId=dev-al&from=${t - 6000}`, { token: viewer }), 200) as any;
      // The desk's time filter is on when it received the alarm (all three taken on together here).
      expect(ofA.alarms.map((x: any) => [x.alarmId, x.state])).toEqual(expect.arrayContaining([['sos-solo', 'resolved'], ['sos-gone', 'cancelled']]));
      expect(ofA.alarms.every((x: any) => x.deviceId === 'dev-al')).toBe(true);
    });

    it('shows visits with their chunks and verification state, without server file paths', async () => {
      const t0 = Date.UTC(2026, 0, 7, 10);
      const chain = chunkChain('dev-vis', 's-1', 3, t0);
      for (const c of chain) await api.store.recordChunk(chunkInput(c, { verified: c.meta.index !== 1 }));
      await api.store.recordManifest(manifestInput(manifestFor(chain), { verification: 'failed', detail: 'chunk 1: signature does not verify' }));
      await api.store.recordChunk(chunkInput(chunkChain('dev-vis', 's-2', 1, t0 + 3_600_000)[0]));
      await api.store.commit([new TestDevice('dev-vis').health(50)], []);

      const list = documented(ROUTES.visits, await call(api.url, `/api/visits?deviceId=dev-vis&from=2026-01-07&to=2026-01-08`, { token: viewer }), 200) as any;
      expect(list.visits.map((v: any) => [v.sessionId, v.state, v.verification])).toEqual([['s-1', 'closed', 'failed'], ['s-2', 'recording', 'pending']]);
      const all = documented(ROUTES.visits, await call(api.url, '/api/visits?from=2026-01-07&to=2026-01-08', { token: viewer }), 200) as any;
      expect(all.visits.map((v: any) => v.sessionId)).toEqual(['s-1', 's-2']);
      const one = documented(ROUTES.visit, await call(api.url, '/api/devices/dev-vis/visits/s-1', { token: viewer }), 200) as any;
      expect(one).toMatchObject({ visitId: 'visit-s-1', trigger: 'visit', verificationDetail: 'chunk 1: signature does not verify', manifest: { lastLink: chain[2].link } });
      expect(one.chunks.map((c: any) => [c.index, c.verified, c.sha256])).toEqual(chain.map((c) => [c.meta.index, c.meta.index !== 1, c.meta.sha256]));
      expect(JSON.stringify(one)).not.toContain('/evidence/');
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-9', { token: viewer }), 404, 'not-found')).toMatch(/s-9/);
    });

    it('sends validated commands and shows the device\'s result; dangerous ones need admin; alarm commands only through the desk', async () => {
      const dev = cleanup.add(await DeviceStandIn.connect(mosquitto.url, 'dev-cmd'), (d) => d.close());
      await dev.birth();
      await poll('dev-cmd known to the store', async () => (await api.store.device('dev-cmd')) !== undefined);

      const ping = documented(ROUTES.sendCommand, await call(api.url, '/api/devices/dev-cmd/commands?wait=5000', { method: 'POST', token: op, body: { name: 'ping' } }), 200) as any;
      expect(ping).toMatchObject({ deviceId: 'dev-cmd', name: 'ping', args: {}, by: 'op-1', status: 'ok', result: { did: 'ping' } });
      expect(ping.expiresAt - ping.sentAt).toBe(60_000);
      expect(documented(ROUTES.command, await call(api.url, `/api/commands/${ping.requestId}`, { token: viewer }), 200)).toEqual(ping);

      const fence = { id: 'home-7', lat: 52.52, lon: 13.405, radiusM: 60 };
      const queued = documented(ROUTES.sendCommand, await call(api.url, '/api/devices/dev-cmd/commands', { method: 'POST', token: op, body: { name: 'geofence.set', args: fence, ttlMs: 5000 } }), 202) as any;
      expect(queued).toMatchObject({ status: 'pending', args: fence });
      await poll('geofence.set answered', async () => ((await call(api.url, `/api/commands/${queued.requestId}`, { token: viewer })).body as any).status === 'ok');
      expect(dev.commands.find((c) => c.id === queued.requestId)).toMatchObject({ name: 'geofence.set', args: fence });

      dev.answer = () => undefined;
      const silent = documented(ROUTES.sendCommand, await call(api.url, '/api/devices/dev-cmd/commands?wait=300', { method: 'POST', token: op, body: { name: 'locate' } }), 202) as any;
      expect(silent.status).toBe('pending');
      dev.answer = (c) => ({ status: 'refused', reason: `no ${c.name} today` });
      const no = documented(ROUTES.sendCommand, await call(api.url, '/api/devices/dev-cmd/commands?wait=5000', { method: 'POST', token: op, body: { name: 'record.stop' } }), 200) as any;
      expect(no).toMatchObject({ status: 'refused', reason: 'no record.stop today' });
      const history = documented(ROUTES.listCommands, await call(api.url, '/api/devices/dev-cmd/commands', { token: viewer }), 200) as any;
      expect(history.commands.map((c: any) => c.name)).toEqual(['record.stop', 'locate', 'geofence.set', 'ping']);

      const before = dev.commands.length;
      const post = (token: string, body: unknown, path = 'dev-cmd') => call(api.url, `/api/devices/${path}/commands`, { method: 'POST', token, body });
      expect(refused(await post(op, { name: 'selfdestruct' }), 400, 'invalid')).toMatch(/unknown command "selfdestruct"; devices understand ping, locate/);
      expect(refused(await post(op, { name: 'geofence.set', args: { id: 'h', lat: 52.5, radiusM: 60 } }), 400, 'invalid')).toMatch(/geofence\.set field \/args.*lon/);
      expect(refused(await post(op, { name: 'geofence.set', args: { ...fence, radiusM: 1 } }), 400, 'invalid')).toMatch(/\/args\/radiusM/);
      expect(refused(await post(op, { name: 'ping', args: { extra: 1 } }), 400, 'invalid')).toMatch(/\/args/);
      expect(refused(await post(op, { name: 'config.set', args: { patch: { logLevel: 'debug' } } }), 403, 'forbidden')).toBe('config.set needs the admin role; token "op-1" is operator');
      expect(refused(await post(op, { name: 'update.install', args: { url: 'https://x/b.tgz', sha256: 'a'.repeat(64) } }), 403, 'forbidden')).toMatch(/admin/);
      expect(refused(await post(admin, { name: 'alarm.ack', args: { alarmId: 'sos-1' } }), 403, 'desk-only')).toMatch(/POST \/api\/alarms\/\{alarmId\}\/ack/);
      expect(refused(await post(op, { name: 'ping', ttlMs: 10 }), 400, 'invalid')).toMatch(/ttlMs/);
      expect(refused(await post(op, { name: 'ping' }, 'dev-unknown'), 404, 'not-found')).toMatch(/dev-unknown/);
      expect(refused(await call(api.url, '/api/commands/p-nothing', { token: viewer }), 404, 'not-found')).toMatch(/p-nothing/);
      expect(dev.commands.length).toBe(before);

      dev.answer = (c) => ({ status: 'ok', result: { changed: Object.keys((c.args?.patch as object) ?? {}) } });
      const set = documented(ROUTES.sendCommand, await call(api.url, '/api/devices/dev-cmd/commands?wait=5000', { method: 'POST', token: admin, body: { name: 'config.set', args: { patch: { logLevel: 'debug' } } } }), 200) as any;
      expect(set).toMatchObject({ status: 'ok', by: 'root', result: { changed: ['logLevel'] } });
    });

    it('gives the console its settings, every device\'s track in one request, the geofences in force and the devices\' faults', async () => {
      const settings = documented(ROUTES.consoleSettings, await call(api.url, '/api/console', { token: viewer }), 200);
      expect(settings).toEqual({ tiles: { url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', attribution: '© OpenStreetMap contributors', maxZoom: 19 }, names: {}, silenceMs: 120_000 });

      const d = new TestDevice('dev-trk');
      const now = Date.now();
      const inside = [now - 50 * 60_000, now - 20 * 60_000, now - 60_000];
      await api.store.commit([
        d.location({ time: now - 2 * 3_600_000, lat: 50, lon: 10 }),
        ...inside.map((t, i) => d.location({ time: t, lat: 52.5 + i / 1000, lon: 13.4, accuracyM: 5 + i })),
        d.event('storage', 'storage is 91 % full', undefined, { rx: now - 5000 }),
        d.msg('event', { kind: 'gps.link', severity: 'info', message: 'GPS receiver back' }, { rx: now - 4000 }),
      ], []);
      const tracks = documented(ROUTES.tracks, await call(api.url, '/api/tracks', { token: viewer }), 200) as any;
      const mine = tracks.tracks.find((t: any) => t.deviceId === 'dev-trk');
      expect(mine).toEqual({ deviceId: 'dev-trk', truncated: false, points: inside.map((t, i) => ({ t, lat: 52.5 + i / 1000, lon: 13.4, acc: 5 + i })) });
      const newest = documented(ROUTES.tracks, await call(api.url, '/api/tracks?limit=2', { token: viewer }), 200) as any;
      expect(newest.tracks.find((t: any) => t.deviceId === 'dev-trk')).toMatchObject({ truncated: true, points: [{ t: inside[1] }, { t: inside[2] }] });
      const older = documented(ROUTES.tracks, await call(api.url, `/api/tracks?from=${now - 3 * 3_600_000}&to=${now - 3_600_000}`, { token: viewer }), 200) as any;
      expect(older.tracks.find((t: any) => t.deviceId === 'dev-trk').points.map((p: any) => p.lat)).toEqual([50]);

      // The geofence the commands test set on dev-cmd (the device answered ok), then cleared.
      const fences = documented(ROUTES.geofences, await call(api.url, '/api/geofences', { token: viewer }), 200) as any;
      expect(fences.geofences).toEqual([expect.objectContaining({ deviceId: 'dev-cmd', id: 'home-7', lat: 52.52, lon: 13.405, radiusM: 60, source: 'geofence', status: 'ok' })]);
      await call(api.url, '/api/devices/dev-cmd/commands?wait=5000', { method: 'POST', token: op, body: { name: 'geofence.clear', args: { id: 'home-7' } } });
      expect((documented(ROUTES.geofences, await call(api.url, '/api/geofences', { token: viewer }), 200) as any).geofences).toEqual([]);

      const faults = documented(ROUTES.events, await call(api.url, '/api/events?deviceId=dev-trk&severity=warning', { token: viewer }), 200) as any;
      expect(faults.events.map((e: any) => [e.kind, e.severity, e.message])).toEqual([['storage', 'warning', 'storage is 91 % full']]);
      expect(faults.events[0].ageMs).toBe(faults.now - (now - 5000));
      const all = documented(ROUTES.events, await call(api.url, '/api/events?deviceId=dev-trk', { token: viewer }), 200) as any;
      expect(all.events.map((e: any) => e.kind)).toEqual(['gps.link', 'storage']);
      expect(refused(await call(api.url, '/api/events?severity=loud', { token: viewer }), 400, 'invalid')).toMatch(/severity/);
    });

    it('audits a visit whose files are not in the evidence store: every chunk missing, none served, no bundle', async () => {
      // dev-vis s-1 from the visits test: indexed, but its files were never written (the fixtures index paths only).
      const check = documented(ROUTES.visitCheck, await call(api.url, '/api/devices/dev-vis/visits/s-1/verification', { token: viewer }), 200) as any;
      expect(check).toMatchObject({ deviceId: 'dev-vis', sessionId: 's-1', state: 'failed' });
      expect(check.chunks.map((c: any) => [c.index, c.state])).toEqual([[0, 'missing'], [1, 'missing'], [2, 'missing']]);
      expect(check.chunks[0].reason).toBe('listed in the signed manifest but not in the stored chain');
      expect(check.problems).toEqual(expect.arrayContaining([expect.stringMatching(/no registered public key for device dev-vis/), expect.stringMatching(/no manifest/)]));
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-1/chunks/0', { token: op }), 404, 'missing')).toMatch(/file of chunk 0 is missing/);
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-1/chunks/1', { token: op }), 409, 'rejected')).toMatch(/not verified at intake/);
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-1/chunks/7', { token: op }), 404, 'not-found')).toMatch(/no chunk 7/);
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-1/bundle', { token: op }), 404, 'not-found')).toMatch(/no stored chain/);
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-9/verification', { token: viewer }), 404, 'not-found')).toMatch(/s-9/);
      expect(refused(await call(api.url, '/api/devices/dev-vis/visits/s-1/chunks/0', { token: viewer }), 403, 'forbidden')).toMatch(/operator/);
    });

    it('answers in the documented error shape when the request is malformed', async () => {
      expect(refused(await call(api.url, '/api/alarms?open=maybe', { token: viewer }), 400, 'invalid')).toMatch(/open/);
      expect(refused(await call(api.url, '/api/devices?x=1', { token: viewer }), 400, 'invalid')).toMatch(/additional properties/);
      expect(refused(await call(api.url, '/api/stream?types=position,gossip', { token: viewer }), 400, 'invalid')).toMatch(/unknown event gossip/);
      expect(Date.now() - start).toBeGreaterThan(0);
    });
  });
}
