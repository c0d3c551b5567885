// API authentication and authorisation over real HTTP (Fastify's listener on
// a free port, node's fetch): every endpoint refuses a request without a
// token, with a forged, malformed, revoked or expired one, and with too low
// a role; the stream alone takes its token from the query (EventSource), and
// no token ever reaches the log; failed authentications and oversized bodies
// are refused before the store or a handler sees them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type ApiRoute } from '../protocol/api.js';
import { T0, TestDevice } from '../platform/store/store-fixtures.js';
import { newToken } from '../platform/api/tokens.js';
import type { ApiRole } from '../platform/store/index.js';
import { call, makeToken, startApiPlatform, type ApiPlatform } from './support/api.js';
import { Cleanup, makeTempDir, Mosquitto } from './support/index.js';

const cleanup = new Cleanup();
let mosquitto: Mosquitto;
let api: ApiPlatform;
const tokens = {} as Record<ApiRole | 'revoked' | 'expired', string>;

/** One concrete request per route of the table (a test below checks none is missing). */
const REQUESTS: Array<{ route: ApiRoute; path: string; body?: unknown }> = [
  { route: ROUTES.me, path: '/api/me' },
  { route: ROUTES.openapi, path: '/api/openapi.json' },
  { route: ROUTES.devices, path: '/api/devices' },
  { route: ROUTES.device, path: '/api/devices/dev-a' },
  { route: ROUTES.positions, path: '/api/devices/dev-a/positions?format=gpx' },
  { route: ROUTES.health, path: '/api/devices/dev-a/health' },
  { route: ROUTES.alarms, path: '/api/alarms?open=true' },
  { route: ROUTES.alarm, path: '/api/alarms/sos-1' },
  { route: ROUTES.ack, path: '/api/alarms/sos-1/ack', body: {} },
  { route: ROUTES.resolve, path: '/api/alarms/sos-1/resolve', body: { note: 'checked on, all well' } },
  { route: ROUTES.visits, path: '/api/visits' },
  { route: ROUTES.visit, path: '/api/devices/dev-a/visits/s-1' },
  { route: ROUTES.sendCommand, path: '/api/devices/dev-a/commands', body: { name: 'ping' } },
  { route: ROUTES.listCommands, path: '/api/devices/dev-a/commands' },
  { route: ROUTES.command, path: '/api/commands/r-1' },
  { route: ROUTES.stream, path: '/api/stream' },
  { route: ROUTES.events, path: '/api/events?severity=warning' },
  { route: ROUTES.visitCheck, path: '/api/devices/dev-a/visits/s-1/verification' },
  { route: ROUTES.chunk, path: '/api/devices/dev-a/visits/s-1/chunks/0' },
  { route: ROUTES.bundle, path: '/api/devices/dev-a/visits/s-1/bundle' },
  { route: ROUTES.consoleSettings, path: '/api/console' },
  { route: ROUTES.tracks, path: '/api/tracks' },
  { route: ROUTES.geofences, path: '/api/geofences' },
];

/** The status of a request; the stream's body (which never ends) is not read. */
async function status(base: string, r: { route: ApiRoute; path: string; body?: unknown }, headers: Record<string, string>, pathOverride?: string): Promise<number> {
  const ac = new AbortController();
  const res = await fetch(`${base}${pathOverride ?? r.path}`, {
    method: r.route.method, signal: ac.signal,
    headers: { ...headers, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: r.body === undefined ? undefined : JSON.stringify(r.body),
  });
  if (r.route.operationId === 'stream') ac.abort();
  else await res.text();
  return res.status;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const RANK: Record<ApiRole, number> = { viewer: 0, operator: 1, admin: 2 };

beforeAll(async () => {
  mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  const dir = cleanup.add(await makeTempDir('nrec-api-auth-'), (d) => d.remove());
  // A generous failure budget here: this file sends hundreds of bad tokens from one address on purpose.
  api = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.path, api: { authFailures: { perMinute: 100_000, burst: 100_000 } } }), (a) => a.stop());
  await new Promise<void>((resolve) => (api.platform.ingest.connected ? resolve() : api.platform.ingest.once('connect', resolve)));
  const d = new TestDevice('dev-a');
  await api.store.commit([d.status('online'), d.location({ time: T0 }), d.health(80), d.alarm('sos-1', 'raised', 0)], []);
  for (const role of ['viewer', 'operator', 'admin'] as const) tokens[role] = await makeToken(api.store, role, `${role}-1`);
  tokens.revoked = await makeToken(api.store, 'admin', 'gone');
  await api.store.revokeToken((await api.store.tokens()).find((t) => t.name === 'gone')!.id, Date.now());
  tokens.expired = await makeToken(api.store, 'admin', 'old', { expiresAt: Date.now() - 1000 });
}, 60_000);
afterAll(() => cleanup.run());

describe('API authentication', () => {
  it('covers every route of the table', () => {
    expect(REQUESTS.map((r) => r.route.operationId).sort()).toEqual(Object.values(ROUTES).map((r) => r.operationId).sort());
  });

  it('refuses every endpoint without a token (401, WWW-Authenticate: Bearer), and unknown paths too', async () => {
    for (const r of REQUESTS) {
      const res = await call(api.url, r.path, { method: r.route.method, body: r.body });
      expect(res.status, `${r.route.method} ${r.path}`).toBe(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'unauthorized', message: expect.stringContaining('no token') });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="nrec"');
    }
    expect((await call(api.url, '/api/nothing-here')).status).toBe(401);
    expect((await call(api.url, '/')).status).toBe(401);
    const known = await call(api.url, '/api/nothing-here', { token: tokens.viewer });
    expect(known.status).toBe(404);
    expect(known.body.message).toContain('no endpoint GET /api/nothing-here');
  });

  it('refuses forged, malformed, wrong-secret, revoked and expired tokens with 401 on every endpoint', async () => {
    const real = tokens.admin;
    const forged = newToken().token;
    const wrongSecret = `${real.slice(0, 22)}${real[22] === 'A' ? 'B' : 'A'}${real.slice(23)}`;
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['forged', bearer(forged), /invalid token/],
      ['wrong secret', bearer(wrongSecret), /invalid token/],
      ['malformed', bearer('letmein'), /malformed token/],
      ['not bearer', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, /must be "Bearer <token>"/],
      ['revoked', bearer(tokens.revoked), /"gone" .* was revoked at/],
      ['expired', bearer(tokens.expired), /"old" .* expired at/],
    ];
    for (const [what, headers, message] of cases) {
      for (const r of REQUESTS) expect(await status(api.url, r, headers), `${what}: ${r.route.method} ${r.path}`).toBe(401);
      const res = await call(api.url, '/api/me', { headers });
      expect(res.body.message, what).toMatch(message);
    }
    // The wrong secret of a revoked token does not learn that it is revoked.
    const revokedWrong = `${tokens.revoked.slice(0, 22)}${tokens.revoked[22] === 'A' ? 'B' : 'A'}${tokens.revoked.slice(23)}`;
    expect((await call(api.url, '/api/me', { headers: bearer(revokedWrong) })).body.message).toBe('invalid token');
  });

  it('gives 403 to a role below the route\'s, and admits every role at or above it', async () => {
    for (const r of REQUESTS) {
      for (const role of ['viewer', 'operator', 'admin'] as const) {
        const s = await status(api.url, r, bearer(tokens[role]));
        if (RANK[role] < RANK[r.route.role]) expect(s, `${role}: ${r.route.method} ${r.path}`).toBe(403);
        else {
          expect([401, 403], `${role}: ${r.route.method} ${r.path} answered ${s}`).not.toContain(s);
          expect(s, `${role}: ${r.route.method} ${r.path}`).toBeLessThan(500);
        }
      }
    }
    const refused = await call(api.url, '/api/alarms/sos-1/ack', { method: 'POST', token: tokens.viewer, body: {} });
    expect(refused.body).toMatchObject({ code: 'forbidden', message: 'this needs the operator role; token "viewer-1" is viewer' });
    const me = await call(api.url, '/api/me', { token: tokens.operator });
    expect(me.body).toMatchObject({ name: 'operator-1', role: 'operator' });
  });

  it('takes ?access_token= on the stream only (EventSource cannot send headers)', async () => {
    const stream = REQUESTS.find((r) => r.route.operationId === 'stream')!;
    expect(await status(api.url, stream, {}, `/api/stream?access_token=${tokens.viewer}`)).toBe(200);
    expect(await status(api.url, stream, {}, `/api/stream?access_token=${newToken().token}`)).toBe(401);
    expect((await call(api.url, `/api/devices?access_token=${tokens.viewer}`)).status).toBe(401);
    expect((await call(api.url, `/api/me?access_token=${tokens.admin}`)).status).toBe(401);
  });

  it('refuses oversized, non-JSON and malformed bodies with a clear 4xx, and an unauthenticated one before reading it', async () => {
    const big = { by: 'x'.repeat(20_000) };
    const tooLarge = await call(api.url, '/api/alarms/sos-1/ack', { method: 'POST', token: tokens.operator, body: big });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ code: 'too-large', message: 'the body is larger than 16384 bytes' });
    expect((await call(api.url, '/api/alarms/sos-1/ack', { method: 'POST', body: big })).status).toBe(401);
    const notJson = await call(api.url, '/api/devices/dev-a/commands', { method: 'POST', token: tokens.operator, rawBody: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not JSON/);
    const text = await call(api.url, '/api/devices/dev-a/commands', { method: 'POST', token: tokens.operator, rawBody: 'ping', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    const extra = await call(api.url, '/api/devices/dev-a/commands', { method: 'POST', token: tokens.operator, body: { name: 'ping', sneaky: true } });
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ code: 'invalid', message: expect.stringContaining('additional properties') });
  });

  it('never logs a token, whichever way it came', async () => {
    await call(api.url, `/api/stream?access_token=${tokens.expired}`);
    const log = api.log.text;
    expect(log).toContain('api request');
    expect(log).toContain('access_token=[redacted]');
    for (const [name, t] of Object.entries(tokens)) {
      expect(log.includes(t), `token ${name} in the log`).toBe(false);
      expect(log.includes(t.slice(22)), `secret of ${name} in the log`).toBe(false);
    }
  });
});

describe('the console\'s static files', () => {
  it('are served without a token (they hold no data), compressed, with headers that keep the page from being framed or loading anything but itself and map tiles; every other path still needs one', async () => {
    const redirect = await fetch(`${api.url}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/console/');
    const page = await fetch(`${api.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="console.js"></script>');
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "img-src 'self' data: blob: https://tile.openstreetmap.org"]) expect(csp).toContain(d);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');

    const js = await fetch(`${api.url}/console/console.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(10_000);
    const etag = js.headers.get('etag')!;
    expect((await fetch(`${api.url}/console/console.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${api.url}/console/console.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${api.url}/console/nothing.js`)).status).toBe(404);

    for (const path of ['/', '/favicon.ico', '/console.js', '/api/console']) expect((await call(api.url, path)).status, path).toBe(401);
  });

  it('say how to build them when they are not built', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-api-nobuild-'), (d) => d.remove());
    const bare = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.path, api: { consoleDir: dir.file('no-console') } }), (a) => a.stop());
    const res = await fetch(`${bare.url}/console/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/the console is not built .*run npm run build/);
    expect(bare.log.text).toMatch(/the operator console is not built/);
  });
});

describe('API rate limits', () => {
  it('refuses a client after its failed authentications, before the store is asked, and limits requests per token', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-api-limit-'), (d) => d.remove());
    const limited = cleanup.add(await startApiPlatform({
      brokerUrl: mosquitto.url, storeDir: dir.path,
      api: { authFailures: { perMinute: 1, burst: 3 }, perToken: { perMinute: 1, burst: 5 } },
    }), (a) => a.stop());
    const good = await makeToken(limited.store, 'viewer', 'busy');
    for (let i = 0; i < 5; i++) expect((await call(limited.url, '/api/me', { token: good })).status).toBe(200);
    const sixth = await call(limited.url, '/api/me', { token: good });
    expect(sixth.status).toBe(429);
    expect(sixth.body).toMatchObject({ code: 'rate-limited', message: 'token "busy" sent too many requests' });
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0);

    let lookups = 0;
    const lookup = limited.store.token.bind(limited.store);
    limited.store.token = (id: string) => {
      lookups++;
      return lookup(id);
    };
    for (let i = 0; i < 3; i++) expect((await call(limited.url, '/api/me', { token: newToken().token })).status).toBe(401);
    expect(lookups).toBe(3);
    const refused = await call(limited.url, '/api/me', { token: newToken().token });
    expect(refused.status).toBe(429);
    expect(refused.body.message).toBe('too many failed authentications from this address');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(lookups).toBe(3);
    // A request without any token is not a guess: it is answered 401, not counted.
    expect((await call(limited.url, '/api/me')).status).toBe(401);
  });
});
