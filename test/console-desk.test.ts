// The operator console in a real browser (Debian's chromium, headless, driven
// by playwright-core) against the platform (ingest, alarm desk, API and
// console on one HTTP server) and the agent as a child process with its
// simulated GPS and SOS button, through a real Mosquitto. The map's tile
// server is a port nothing listens on: the map must draw without tiles.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { call, makeToken, startApiPlatform, type ApiPlatform } from './support/api.js';
import { Chromium, signIn, unexpectedErrors } from './support/chromium.js';
import { consoleContacts } from './support/console.js';
import { LinkProxy } from '../simulator/link/link-proxy.js';
import { HttpReceiver } from './support/receivers.js';
import { Cleanup, freePort, makeTempDir, Mosquitto, nextStored, waitFor, World, type TempDir } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const DEVICE = 'sim-001';
const NURSE = 'Maria K.';
const cleanup = new Cleanup();
let dir: TempDir;
let mosquitto: Mosquitto;
let hooks: HttpReceiver;
let platform: ApiPlatform;
let world: World;
let browser: Chromium;
let tilePort: number;
let contactsFile: string;
/** The operator's browser reaches the platform through this: a network that can drop. */
let link: LinkProxy;
const tokens = { operator: '', viewer: '' };
const clientId = `console-desk-${process.pid}`;

async function startPlatform(port?: number): Promise<ApiPlatform> {
  return startApiPlatform({
    brokerUrl: mosquitto.url, storeDir: dir.file('store'), contactsFile, clientId, port,
    api: { tiles: { url: `http://127.0.0.1:${tilePort}/tiles/{z}/{x}/{y}.png`, attribution: 'test tiles', maxZoom: 19 } },
  });
}

beforeAll(async () => {
  dir = cleanup.add(await makeTempDir('nrec-console-desk-'), (d) => (browser?.failed ? undefined : d.remove()));
  mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  hooks = cleanup.add(await HttpReceiver.start(), (h) => h.close());
  tilePort = await freePort();
  contactsFile = await consoleContacts(dir, { deviceId: DEVICE, name: NURSE, hookUrl: hooks.url('/hook/ward') });
  platform = await startPlatform();
  cleanup.add(undefined, () => platform.stop());
  tokens.operator = await makeToken(platform.store, 'operator', 'Anna Schmidt');
  tokens.viewer = await makeToken(platform.store, 'viewer', 'wall-screen');
  link = cleanup.add(await LinkProxy.start({ host: '127.0.0.1', port: Number(new URL(platform.url).port) }), (l) => l.close());
  browser = cleanup.add(await Chromium.start(dir.path), (b) => b.close());
}, 60_000);

const viaLink = () => `http://127.0.0.1:${link.port}`;
afterAll(() => cleanup.run());

const card = (page: Page, alarmId: string) => page.locator(`article.alarm[data-alarm-id="${alarmId}"]`);

async function raiseSos(): Promise<string> {
  const raised = nextStored<{ alarmId: string; state: string }>(platform.platform.ingest, 'alarm', (a) => a.state === 'raised');
  await world.pressSos(1700);
  return (await raised).alarmId;
}

describe('operator console', () => {
  let operator: { page: Page; errors: string[] };
  let firstAlarm = '';

  it('shows the device on the map within 5 s of its first position; an SOS holds the desk and sounds; one click acknowledges it, and the device gets alarm.ack', async () => {
    operator = await browser.page();
    browser.screenshotOnFailure({ operator: operator.page });
    await signIn(operator.page, viaLink(), tokens.operator);
    expect(await operator.page.textContent('.me')).toBe('Anna Schmidt · operator');

    // The device comes up while the console is open.
    world = cleanup.add(await World.create({ logger, workDir: dir.file('world'), brokerUrl: mosquitto.url, ingest: false, deviceId: DEVICE, agentConfig: { button: { resendS: 1 } } }), (w) => w.close());
    await nextStored(platform.platform.ingest, 'location');
    await operator.page.waitForSelector(`path.nrec-dev-${DEVICE}`, { timeout: 5000 });
    await world.agent.waitForLine('sysfs watching button line');

    firstAlarm = await raiseSos();
    const c = card(operator.page, firstAlarm);
    await c.waitFor({ timeout: 5000 });
    expect(await c.getAttribute('class')).toContain('waiting');
    await expect.poll(() => c.locator('.who').textContent()).toBe(NURSE);
    // The escalation timeline: the webhook to tier 1, as the desk recorded it.
    await c.locator('li[data-kind=attempt].ok').waitFor({ timeout: 10_000 });
    expect(await c.locator('li[data-kind=attempt]').first().textContent()).toMatch(/tier 1 · webhook → Ward 3 station.*: sent/);
    expect(await c.locator('[data-field=device-side]').textContent()).toMatch(/raised on the device/);
    // The sign-in click let the browser play sound.
    await operator.page.locator('[data-sound=playing]').waitFor({ timeout: 5000 });

    await operator.page.screenshot({ path: dir.file('console-alarm.png') });
    // The README's screenshot is refreshed on request (a test run leaves the checkout clean).
    if (process.env.NREC_UPDATE_SCREENSHOTS === '1') {
      await mkdir(join(import.meta.dirname, '..', 'docs', 'images'), { recursive: true });
      await copyFile(dir.file('console-alarm.png'), join(import.meta.dirname, '..', 'docs', 'images', 'console-alarm.png'));
    }

    const deviceAcked = nextStored<{ alarmId: string; state: string }>(platform.platform.ingest, 'alarm', (a) => a.alarmId === firstAlarm && a.state === 'acknowledged');
    await c.locator('button[data-action=acknowledge]').click();
    await expect.poll(() => c.getAttribute('data-state')).toBe('acknowledged');
    expect(await c.locator('[data-field=acknowledged-by]').textContent()).toBe('Anna Schmidt');
    await deviceAcked;
    const desk = await waitForAsync('the device\'s answer to alarm.ack on the desk', async () => {
      const a = await platform.platform.services.desk.get(DEVICE, firstAlarm);
      return a?.ackCommand?.status === 'ok' && a.deviceAcknowledgedAt !== undefined ? a : undefined;
    });
    expect(desk).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'Anna Schmidt', deviceState: 'acknowledged' });
    await world.agent.waitForLine(new RegExp(`"command":"alarm\\.ack","requestId":"${desk.ackCommand!.requestId}","status":"ok"`));
    expect(await c.locator('button[data-action=acknowledge]').count()).toBe(0);
    await expect.poll(() => operator.page.locator('[data-sound]').count()).toBe(0);

    // Resolved with a note, from the console.
    await c.locator('button[data-action=resolve]').click();
    await c.locator('textarea[name=note]').fill('Fell in the bathroom, no injury; colleague on site.');
    await c.locator('button[data-action=resolve-submit]').click();
    await expect.poll(() => c.getAttribute('data-state')).toBe('resolved');
    expect(await platform.platform.services.desk.get(DEVICE, firstAlarm)).toMatchObject({ state: 'resolved', resolvedBy: 'Anna Schmidt', note: 'Fell in the bathroom, no injury; colleague on site.' });
    expect(unexpectedErrors(operator.errors, [/ERR_CONNECTION_REFUSED/])).toEqual([]);
  });

  let secondAlarm = '';

  it('a viewer sees the open alarm but has no Acknowledge button, and the API refuses the viewer\'s token if forced; a screen nobody touched says the sound is blocked', async () => {
    secondAlarm = await raiseSos();
    // A wall screen: the tab already holds its token and nobody has clicked on it, so the browser holds the sound back.
    const viewer = await browser.page();
    browser.screenshotOnFailure({ viewer: viewer.page, operator: operator.page });
    await viewer.page.addInitScript((t) => sessionStorage.setItem('nrec.token', t), tokens.viewer);
    // Playwright's waiting queries count as a user gesture for the page, so the blocked sound is awaited from the page's log, untouched.
    const blocked = new Promise<void>((resolve) => viewer.page.on('console', (m) => {
      if (m.text().includes('blocks the alarm sound')) resolve();
    }));
    // Another origin (localhost, not 127.0.0.1) than the operator's tab, whose clicks the browser would count for this one too.
    await viewer.page.goto(`http://localhost:${new URL(platform.url).port}/console/`);
    await withTimeout(blocked, 10_000, 'the console to say the browser blocks the sound');
    expect(await viewer.page.textContent('[data-sound]')).toMatch(/blocking the alarm sound\. Click anywhere/);
    expect(await viewer.page.textContent('.me')).toBe('wall-screen · viewer');
    await viewer.page.mouse.click(600, 600);
    await viewer.page.locator('[data-sound=playing]').waitFor({ timeout: 5000 });

    const c = card(viewer.page, secondAlarm);
    await c.waitFor({ timeout: 5000 });
    expect(await c.getAttribute('data-state')).toMatch(/^(raised|notifying)$/);
    expect(await c.locator('.who').textContent()).toBe(NURSE);
    expect(await c.locator('button[data-action=acknowledge]').count()).toBe(0);
    expect(await c.locator('[data-field=read-only]').textContent()).toMatch(/cannot acknowledge/);
    // The operator's console has the button for the same alarm.
    await card(operator.page, secondAlarm).locator('button[data-action=acknowledge]').waitFor({ timeout: 5000 });

    // Forced: the same request the button sends, with the viewer's token from this tab.
    const forced = await viewer.page.evaluate(async ({ alarmId, deviceId }) => {
      const res = await fetch(`/api/alarms/${alarmId}/ack?deviceId=${deviceId}`, { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem('nrec.token')}` } });
      return { status: res.status, body: await res.json() as { code: string; message: string } };
    }, { alarmId: secondAlarm, deviceId: DEVICE });
    expect(forced).toEqual({ status: 403, body: expect.objectContaining({ code: 'forbidden', message: 'this needs the operator role; token "wall-screen" is viewer' }) });
    expect((await platform.platform.services.desk.get(DEVICE, secondAlarm))?.state).toMatch(/^(raised|notifying)$/);
    await viewer.page.close();
  });

  it('an alarm stays on the desk across a page reload, a dropped stream and a platform restart, until acknowledged', async () => {
    browser.screenshotOnFailure({ operator: operator.page });
    const page = operator.page;
    await card(page, secondAlarm).waitFor({ timeout: 5000 });

    // Reload: still there (the token is in this tab's sessionStorage).
    await page.reload();
    await page.waitForSelector('header.top', { timeout: 10_000 });
    await card(page, secondAlarm).locator('button[data-action=acknowledge]').waitFor({ timeout: 5000 });

    // The network drops: the console says so and keeps the alarm; it reconnects by itself and resumes the
    // stream, bringing what happened meanwhile (the device kept re-sending: the desk counted it).
    link.cut({ reset: true });
    await page.locator('[data-stream=down]').waitFor({ timeout: 10_000 });
    await page.locator('[data-field=stale-banner]').waitFor();
    expect(await card(page, secondAlarm).getAttribute('data-state')).toMatch(/^(raised|notifying)$/);
    const before = (await platform.platform.services.desk.get(DEVICE, secondAlarm))!.resends;
    await waitForAsync('a re-send while the console is cut off', async () => ((await platform.platform.services.desk.get(DEVICE, secondAlarm))!.resends > before ? true : undefined));
    const missed = (await platform.platform.services.desk.get(DEVICE, secondAlarm))!.resends;
    link.restore();
    await page.locator('[data-stream=live]').waitFor({ timeout: 15_000 });
    expect(await card(page, secondAlarm).count()).toBe(1);
    await expect.poll(async () => Number(/(\d+) re-send/.exec((await card(page, secondAlarm).locator('[data-field=device-side]').textContent()) ?? '')?.[1] ?? 0), { timeout: 10_000 }).toBeGreaterThanOrEqual(missed);

    // The platform restarts (the stream cannot resume: a new process): down, back, reloaded, still there.
    const port = new URL(platform.url).port;
    await platform.stop();
    await page.locator('[data-stream=down]').waitFor({ timeout: 10_000 });
    platform = await startPlatform(Number(port));
    await page.locator('[data-stream=live]').waitFor({ timeout: 20_000 });
    const c = card(page, secondAlarm);
    await c.locator('button[data-action=acknowledge]').waitFor({ timeout: 5000 });

    await c.locator('button[data-action=acknowledge]').click();
    await expect.poll(() => c.getAttribute('data-state')).toBe('acknowledged');
    const a = await waitForAsync('alarm.ack answered by the device', async () => {
      const x = await platform.platform.services.desk.get(DEVICE, secondAlarm);
      return x?.ackCommand?.status === 'ok' ? x : undefined;
    });
    expect(a).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'Anna Schmidt' });
    expect(a.history.map((h) => h.state)).toEqual(['raised', 'notifying', 'acknowledged']);
  });

  it('lists the device with its state, battery, storage, queue, GPS and firmware; its page shows the health history and sends the safe commands', async () => {
    browser.screenshotOnFailure({ operator: operator.page });
    const page = operator.page;
    await waitForAsync('a health report stored', async () => ((await platform.platform.store.health(DEVICE)).length > 0 ? true : undefined));
    await page.goto(`${viaLink()}/console/#/devices`);
    const row = page.locator(`table.devices tr[data-device="${DEVICE}"]`);
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toContain(NURSE);
    expect(cells[1]).toBe('online');
    expect(cells[2]).toMatch(/(now|\d+ s ago)/);
    expect(cells[4]).toMatch(/B of /);
    expect(cells[5]).toMatch(/^\d+$/);
    expect(cells[7]).toMatch(/\d+\.\d+\.\d+/);

    await row.locator('a').first().click();
    await page.locator(`.device-page[data-device="${DEVICE}"]`).waitFor();
    await page.locator('section.health-history tbody tr').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('section.health-history tbody tr').first().textContent()).toMatch(/start|interval|change/);
    await page.click('button[data-command=ping]');
    const ping = page.locator('section.commands tr[data-status=ok]', { hasText: 'ping' });
    await ping.waitFor({ timeout: 20_000 });
    expect(await ping.textContent()).toContain('Anna Schmidt');
    await page.goto(`${viaLink()}/console/#/map`);
  });

  it('loads and draws with the tile server unreachable: positions, accuracy circles, the track and geofences on a plain background', async () => {
    const d = await platform.platform.store.device(DEVICE);
    const at = d!.lastPosition!;
    const sent = await call(platform.url, `/api/devices/${DEVICE}/commands?wait=10000`, { method: 'POST', token: tokens.operator, body: { name: 'geofence.set', args: { id: 'home-7', lat: at.lat, lon: at.lon, radiusM: 60 } } });
    expect(sent.body).toMatchObject({ status: 'ok' });
    await waitFor('a few positions for a track', () => (platform.platform.ingest.stats.accepted.location ?? 0) >= 3, 30_000);

    const fresh = await browser.page();
    browser.screenshotOnFailure({ map: fresh.page });
    const tileRequests: string[] = [];
    fresh.page.on('requestfailed', (r) => {
      if (r.url().startsWith(`http://127.0.0.1:${tilePort}/`)) tileRequests.push(r.url());
    });
    await signIn(fresh.page, platform.url, tokens.viewer);
    await fresh.page.locator('.map[data-tiles=unreachable]').waitFor({ timeout: 10_000 });
    expect(await fresh.page.locator('[data-field=tiles-note]').textContent()).toMatch(/unreachable .*drawn on a plain background/);
    expect(tileRequests.length).toBeGreaterThan(0);
    const dot = fresh.page.locator(`path.nrec-dev-${DEVICE}`);
    await dot.waitFor({ timeout: 5000 });
    expect(await dot.getAttribute('data-device')).toBe(DEVICE);
    const acc = await fresh.page.locator(`path.nrec-acc-${DEVICE}`).getAttribute('d');
    expect(acc).toMatch(/a[\d.]+,[\d.]+ 0 1,0/);
    // The track: a line through the positions of the last minutes (Leaflet draws a straight walk as its two ends).
    const track = fresh.page.locator(`path.nrec-track-${DEVICE}`);
    expect(await track.getAttribute('d')).toMatch(/^M[\d.-]+ [\d.-]+L/);
    expect(Math.max((await track.boundingBox())!.width, (await track.boundingBox())!.height)).toBeGreaterThan(5);
    const fence = fresh.page.locator(`path.nrec-fence-${DEVICE}`);
    await fence.waitFor({ timeout: 5000 });
    // The 60 m fence is drawn larger than the accuracy circle around the same point.
    const [fb, ab] = await Promise.all([fence.boundingBox(), fresh.page.locator(`path.nrec-acc-${DEVICE}`).boundingBox()]);
    expect(fb!.width).toBeGreaterThan(ab!.width);
    expect(unexpectedErrors(fresh.errors, [/ERR_CONNECTION_REFUSED/, /ERR_INTERNET_DISCONNECTED/])).toEqual([]);
  });
});

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

async function waitForAsync<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

