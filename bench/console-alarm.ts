// How long from an alarm reaching the platform to the operator console's desk
// showing it, while 100 devices stream positions at 1 Hz?
// Platform: Mosquitto and `nrec ingest --http` (SQLite store, alarm desk, API,
// console) as a child process, as production runs it. Devices: 100 MQTT clients
// in this process, each publishing a valid location message every second (random
// phase, a slow walk) and answering commands (alarm.ack) as a device does.
// Console: Debian's chromium, headless, signed in with an operator token, on the
// live map (100 moving markers and tracks) with the alarm strip above it.
// Ours: the console as shipped (alarms on the live stream).
// Baseline: the same page with ?alarms=poll — alarms fetched from GET
// /api/alarms?open=true every second instead of streamed; positions still come on
// the stream, so the page draws the same load.
// Each sample: one device publishes an SOS (QoS 1); the page's MutationObserver
// stamps the moment the alarm's card enters the DOM (performance.timeOrigin +
// now(), the same clock as Date.now here); then the bench acknowledges it
// through the API so the desk holds one open alarm at a time, as it would.
// Latency is from the publish (it includes the broker hop and the commit: an
// upper bound of "the ingest received it"), and the desk's share from the desk's
// receivedAt (when it took the alarm on, after the commit).
// Second line: the console's page weight from the build (dist/console/weight.json).
// SAMPLES (default 40 per side), DEVICES (default 100), WARMUP_S (default 8).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { cliPath } from '../simulator/agent-process.js';
import { call, DeviceStandIn } from '../test/support/api.js';
import { launchChromium } from '../test/support/chromium-launch.js';
import { IngestProcess } from '../test/support/ingest-process.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { freePort } from '../test/support/ports.js';
import { percentile, report, round } from './_report.js';

const SAMPLES = Number(process.env.SAMPLES ?? 40);
const DEVICES = Number(process.env.DEVICES ?? 100);
const WARMUP_MS = Number(process.env.WARMUP_S ?? 8) * 1000;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample { fromPublish: number; fromDesk: number }

/** 100 devices walking around a ward, one location a second each. */
class Fleet {
  readonly devices: DeviceStandIn[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  published = 0;
  readonly startedAt = Date.now();

  static async start(brokerUrl: string, n: number): Promise<Fleet> {
    const f = new Fleet();
    for (let i = 0; i < n; i++) {
      const d = await DeviceStandIn.connect(brokerUrl, `bench-${String(i).padStart(3, '0')}`);
      await d.birth();
      f.devices.push(d);
    }
    for (const [i, d] of f.devices.entries()) {
      const lat0 = 52.52 + (i % 10) * 0.002;
      const lon0 = 13.40 + Math.floor(i / 10) * 0.003;
      let step = 0;
      const tick = () => {
        step++;
        void d.location(lat0 + step * 1e-5, lon0 + Math.sin(step / 20) * 1e-4, { accuracyM: 3 + (step % 5) }).then(() => f.published++, () => undefined);
      };
      // A random phase, so the fleet's messages spread over each second as real devices' would.
      f.#timers.push(setTimeout(() => {
        tick();
        f.#timers.push(setInterval(tick, 1000));
      }, Math.random() * 1000));
    }
    return f;
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await Promise.all(this.devices.map((d) => d.close().catch(() => undefined)));
  }
}

/** Stamps when each alarm card first enters the DOM, from inside the page. */
function observeAlarms(): void {
  const w = window as unknown as { __seen: Record<string, number> };
  w.__seen = {};
  const stamp = () => {
    for (const el of document.querySelectorAll('article.alarm[data-alarm-id]')) {
      const id = el.getAttribute('data-alarm-id')!;
      w.__seen[id] ??= performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(stamp).observe(document, { subtree: true, childList: true });
}

async function measure(browser: BrowserContext, base: string, token: string, fleet: Fleet, mode: 'stream' | 'poll'): Promise<Sample[]> {
  // A tab of its own: a fresh sessionStorage, signed in as a person does.
  const page = await browser.newPage();
  await page.addInitScript(observeAlarms);
  await page.goto(`${base}/console/${mode === 'poll' ? '?alarms=poll' : ''}#/map`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-stream=live]', { timeout: 30_000 });
  await page.waitForSelector(`path.nrec-dev-${fleet.devices.at(-1)!.id}`, { timeout: 30_000 });
  await sleep(WARMUP_MS);
  const samples: Sample[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const d = fleet.devices[Math.floor(Math.random() * fleet.devices.length)];
    const alarmId = `bench-${mode}-${i}-${Math.random().toString(36).slice(2, 8)}`;
    const t0 = now();
    await d.alarm(alarmId, 'raised');
    let seen: number | undefined;
    const deadline = Date.now() + 10_000;
    while (seen === undefined) {
      if (Date.now() > deadline) throw new Error(`${mode}: alarm ${alarmId} not on the desk after 10 s`);
      await sleep(20);
      seen = await page.evaluate((id) => (window as unknown as { __seen: Record<string, number> }).__seen[id], alarmId);
    }
    const a = await call(base, `/api/alarms/${alarmId}?deviceId=${d.id}`, { token });
    samples.push({ fromPublish: seen - t0, fromDesk: seen - (a.body as { receivedAt: number }).receivedAt });
    const acked = await call(base, `/api/alarms/${alarmId}/ack?deviceId=${d.id}`, { method: 'POST', token });
    if (acked.status !== 200) throw new Error(`ack of ${alarmId}: ${acked.status} ${acked.text}`);
    await sleep(500 + Math.random() * 1000);
  }
  await page.close();
  return samples;
}

const stats = (xs: number[]) => ({ p50: round(percentile(xs, 50), 1), p99: round(percentile(xs, 99), 1), max: round(Math.max(...xs), 1) });

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nrec-bench-console-'));
  const mosquitto = await Mosquitto.start();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const store = join(dir, 'store');
  const made = spawnSync(process.execPath, [cliPath(), 'token', 'create', '--role', 'operator', '--name', 'bench', '--store', store, '--json'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`nrec token create: ${made.stderr}`);
  const token = (JSON.parse(made.stdout) as { token: string }).token;
  const ingest = new IngestProcess(['--store', store, '--broker', mosquitto.url, '--http', `127.0.0.1:${port}`, '--tiles', 'none']);
  let fleet: Fleet | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'));
  try {
    await ingest.start();
    fleet = await Fleet.start(mosquitto.url, DEVICES);
    const ours = await measure(browser, base, token, fleet, 'stream');
    const baseline = await measure(browser, base, token, fleet, 'poll');
    const o = stats(ours.map((s) => s.fromPublish));
    const b = stats(baseline.map((s) => s.fromPublish));
    report({
      bench: 'console-alarm',
      devices: DEVICES,
      samples: SAMPLES,
      positionsPerSecond: round(fleet.published / ((Date.now() - fleet.startedAt) / 1000), 1),
      ours: { ...o, deskShare: stats(ours.map((s) => s.fromDesk)) },
      baseline: { what: 'same page, alarms polled every 1 s', ...b, deskShare: stats(baseline.map((s) => s.fromDesk)) },
      goalP99Ms: 250,
      ratio: round(b.p99 / o.p99, 2),
    });
    const weightFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'console', 'weight.json');
    const w = JSON.parse(readFileSync(weightFile, 'utf8')) as { firstLoad: { bytes: number; gzip: number; files: string[] }; lazy: { gzip: number }; budgetGzip: number };
    report({
      bench: 'console-weight',
      firstLoadGzipBytes: w.firstLoad.gzip,
      firstLoadRawBytes: w.firstLoad.bytes,
      files: w.firstLoad.files,
      playbackChunkGzipBytes: w.lazy.gzip,
      budgetGzipBytes: w.budgetGzip,
      // Against the budget: below 1 is within it.
      ratio: round(w.firstLoad.gzip / w.budgetGzip, 3),
    });
  } finally {
    await browser.close().catch(() => undefined);
    await fleet?.stop();
    await ingest.stop();
    await mosquitto.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
