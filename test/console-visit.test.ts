// A recorded visit in the operator console, in a real browser (Debian's
// chromium, headless, playwright-core): the agent (a child process) records
// the simulator's camera with the real ffmpeg between record.start and
// record.stop, the platform verifies and stores the chunks, and the console
// lists every chunk as verified, plays them (mpegts.js through Media Source
// Extensions: the video reaches the end of the first chunk and goes on), and
// downloads the evidence bundle, which `nrec verify` accepts offline. Then a
// chunk is altered and another removed in the store: the console shows them
// rejected (with the reason) and missing, refuses to play the altered one,
// and the bundle no longer verifies.
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import type { VisitView } from '../platform/store/index.js';
import { call, makeToken, startApiPlatform, type ApiPlatform } from './support/api.js';
import { Chromium, signIn, unexpectedErrors } from './support/chromium.js';
import { runVerify } from './support/evidence.js';
import { Cleanup, makeTempDir, Mosquitto, World, type TempDir } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const VISIT = 'visit-console-1';
const cleanup = new Cleanup();
let dir: TempDir;
let platform: ApiPlatform;
let world: World;
let browser: Chromium;
let operator: string;
let visit: VisitView;

async function waitForVisit(what: string, check: (v: VisitView) => boolean, timeoutMs: number): Promise<VisitView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const vs = await platform.store.visits(world.deviceId);
    const v = vs.find((x) => x.chunks.length > 0 && x.visitId === VISIT);
    if (v !== undefined && check(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function bundleVerifies(page: Page, label: string): Promise<{ code: number | null; output: string }> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('button[data-action=download]')]);
  expect(download.suggestedFilename()).toBe(`${world.deviceId}-${visit.sessionId}.tar.gz`);
  const file = dir.file(`${label}.tar.gz`);
  await download.saveAs(file);
  const out = dir.file(label);
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['xzf', file, '-C', out]);
  return runVerify(`${out}/${world.deviceId}-${visit.sessionId}`);
}

beforeAll(async () => {
  dir = cleanup.add(await makeTempDir('nrec-console-visit-'), (d) => (browser?.failed ? undefined : d.remove()));
  const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  platform = cleanup.add(await startApiPlatform({ brokerUrl: mosquitto.url, storeDir: dir.file('store'), media: true, api: { tiles: null } }), (p) => p.stop());
  operator = await makeToken(platform.store, 'operator', 'Anna Schmidt');
  // The platform's store holds the device's key: World provisions it into <store>/keys, as the factory would.
  world = cleanup.add(await World.create({ logger, workDir: dir.file('world'), storeDir: dir.file('store'), brokerUrl: mosquitto.url, ingest: false, media: true }), (w) => w.close());
  await world.agent.waitForLine('"recorder":"running"', 30_000);
  browser = cleanup.add(await Chromium.start(dir.path), (b) => b.close());

  const started = await call(platform.url, `/api/devices/${world.deviceId}/commands?wait=20000`, { method: 'POST', token: operator, body: { name: 'record.start', args: { visitId: VISIT } } });
  expect(started.body).toMatchObject({ status: 'ok' });
  await waitForVisit('three chunks of the visit stored', (v) => v.chunks.length >= 3, 60_000);
  const stopped = await call(platform.url, `/api/devices/${world.deviceId}/commands?wait=20000`, { method: 'POST', token: operator, body: { name: 'record.stop' } });
  expect(stopped.body).toMatchObject({ status: 'ok' });
  visit = await waitForVisit('the visit closed by its manifest and verified', (v) => v.state === 'closed' && v.verification === 'verified' && v.chunks.length === v.manifest?.chunks.length, 60_000);
}, 150_000);
afterAll(() => cleanup.run());

describe('a recorded visit in the console', () => {
  it('lists every chunk as verified, plays them in order (the video reaches the end of the first chunk), and the downloaded bundle verifies offline', async () => {
    const { page, errors } = await browser.page();
    browser.screenshotOnFailure({ visit: page });
    await signIn(page, platform.url, operator);
    // Today's visits: this one, with its chunks, verified at intake; from there to its page.
    await page.goto(`${platform.url}/console/#/visits`);
    const listed = page.locator(`table.visits tr[data-session="${visit.sessionId}"]`);
    await listed.waitFor({ timeout: 10_000 });
    expect(await listed.locator('td').allTextContents()).toEqual([expect.any(String), world.deviceId, VISIT, expect.stringMatching(/s$/), String(visit.chunks.length), 'closed', 'verified']);
    await listed.locator('a').click();
    await page.locator('[data-field=visit-state]').waitFor({ timeout: 10_000 });
    expect(await page.textContent('[data-field=visit-state]')).toBe('verified');
    expect(await page.textContent('.visit-page .facts')).toMatch(new RegExp(`${visit.chunks.length} chunks, 0 gaps, 0 alarms`));
    const rows = page.locator('table.chunks tr[data-chunk]');
    expect(await rows.count()).toBe(visit.chunks.length);
    expect(await page.locator('table.chunks tr[data-state=verified]').count()).toBe(visit.chunks.length);

    await page.click('button[data-action=play]');
    const video = page.locator('video');
    const first = visit.chunks[0];
    const firstS = (first.endTime - first.startTime) / 1000;
    // Playing: currentTime advances through the first chunk to its end, and playback goes on with the next.
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 15_000 }).toBeGreaterThan(1);
    await expect.poll(() => video.getAttribute('data-ended'), { timeout: firstS * 1000 + 15_000 }).toMatch(/^0(,|$)/);
    await expect.poll(() => video.getAttribute('data-chunk'), { timeout: 10_000 }).toBe(String(visit.chunks[1].index));
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 15_000 }).toBeGreaterThan(0.5);
    expect(await page.locator('.player .error').count()).toBe(0);

    const verified = await bundleVerifies(page, 'bundle-good');
    expect(verified.output).toMatch(new RegExp(`${world.deviceId}/${visit.sessionId}: ${visit.chunks.length} chunks, manifest — OK`));
    expect(verified.code, verified.output).toBe(0);
    expect(unexpectedErrors(errors)).toEqual([]);
  });

  it('shows a chunk altered in the store as rejected with the reason and a removed one as missing; neither is served for playback, and the bundle no longer verifies', async () => {
    const { page } = await browser.page();
    browser.screenshotOnFailure({ visit: page });
    const altered = visit.chunks[1];
    const removed = visit.chunks[2];
    const bytes = await readFile(altered.path);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(altered.path, bytes);
    await rm(removed.path);

    await signIn(page, platform.url, operator);
    await page.goto(`${platform.url}/console/#/visits/${world.deviceId}/${visit.sessionId}`);
    await page.locator('[data-field=visit-state]').waitFor({ timeout: 10_000 });
    expect(await page.textContent('[data-field=visit-state]')).toBe('failed');
    const row = (i: number) => page.locator(`table.chunks tr[data-chunk="${i}"]`);
    expect(await row(altered.index).getAttribute('data-state')).toBe('rejected');
    expect(await row(altered.index).locator('.reason').textContent()).toMatch(/sha256 of chunk-000001\.ts .* differs from the signed meta .*altered or replaced/);
    expect(await row(removed.index).getAttribute('data-state')).toBe('missing');
    expect(await row(removed.index).locator('.reason').textContent()).toMatch(/chunk-000002\.ts is missing/);
    expect(await row(visit.chunks[0].index).getAttribute('data-state')).toBe('verified');
    expect(await page.textContent('button[data-action=play]')).toMatch(new RegExp(`Play ${visit.chunks.length - 2} verified chunks`));

    const refused = await call(platform.url, `/api/devices/${world.deviceId}/visits/${visit.sessionId}/chunks/${altered.index}`, { token: operator });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'rejected', message: expect.stringMatching(/no longer matches the hash the device signed/) });
    expect((await call(platform.url, `/api/devices/${world.deviceId}/visits/${visit.sessionId}/chunks/${removed.index}`, { token: operator })).status).toBe(404);
    const good = await fetch(`${platform.url}/api/devices/${world.deviceId}/visits/${visit.sessionId}/chunks/${visit.chunks[0].index}`, { headers: { authorization: `Bearer ${operator}` } });
    expect(good.status).toBe(200);
    expect(good.headers.get('content-type')).toBe('video/mp2t');

    const audit = await bundleVerifies(page, 'bundle-tampered');
    expect(audit.code).toBe(1);
    expect(audit.output).toMatch(/chunk 1: sha256 of chunk-000001\.ts/);
    expect(audit.output).toMatch(/chunk 2: chunk-000002\.ts is missing/);
  });
});


