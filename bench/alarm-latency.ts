// How long from the moment a long press becomes an SOS to the alarm stored at the platform?
// Per GPIO backend (the simulator's sysfs tree, libgpiod v1 and v2 tool stand-ins),
// idle link, real Mosquitto on loopback, the agent as a child process (World).
//
// Ours: the agent. Each press holds the line for sosHoldMs + 100 ms; latency =
// ingest receipt ('stored', after its fsync) − (press time + sosHoldMs), both on
// this process's clock, the press time taken as the pressed level is written.
// Baseline: the theoretical floor of the same measurement, bound = the time the
// agent may take to see the edge (sysfs poll interval; gpiod: 0, event driven)
// + the debounce. Goal: p99 ≤ bound + 30 ms, ratio = p99 / (bound + 30) ≤ 1.
// Each alarm is resolved (alarm.resolve) before the next press so it raises anew.
// Breakdown (p50 per segment, from the agent's log time and the message's
// envelope ts, both ms resolution): detect = "SOS raised" logged − threshold
// (edge seen, hold timer, SOS state fsync); make = envelope ts − raised log;
// deliver = receipt − envelope ts (outbox commit, pump, MQTT, broker, ingest fsync).
// PRESSES (default 200), HOLD_MS (default 200, the config minimum is 100).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../lib/logger.js';
import type { Ingest } from '../platform/ingest/index.js';
import { World } from '../simulator/world.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { percentile, report, round } from './_report.js';

const PRESSES = Number(process.env.PRESSES ?? 200);
const HOLD_MS = Number(process.env.HOLD_MS ?? 200);
const DEBOUNCE_MS = 30;
const SYSFS_POLL_MS = 10;
const GOAL_SLACK_MS = 30;
const silent = createLogger('bench', { level: 'silent' });
const backends = ['sysfs', 'gpiod-v1', 'gpiod-v2'] as const;

interface Alarm { id: string; alarmId: string; state: string; ts: number }

/** Epoch ms with sub-ms resolution, on the same clock as the ingest's receipt times below. */
const now = () => performance.timeOrigin + performance.now();

/** Resolves with the next stored alarm message passing `filter`, and when it was stored. */
function nextAlarm(ingest: Ingest, filter: (a: Alarm) => boolean, timeoutMs = 10_000): Promise<{ alarm: Alarm; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ingest.off('stored', on);
      reject(new Error(`no matching alarm stored within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (_d: string, stream: string, m: Alarm) => {
      if (stream !== 'alarm' || !filter(m)) return;
      const at = now();
      clearTimeout(timer);
      ingest.off('stored', on);
      resolve({ alarm: m, at });
    };
    ingest.on('stored', on);
  });
}

async function measure(backend: (typeof backends)[number], brokerUrl: string) {
  const workDir = await mkdtemp(join(tmpdir(), 'nrec-bench-alarm-'));
  const world = await World.create({
    logger: silent,
    workDir,
    brokerUrl,
    buttonBackend: backend,
    autoFeed: false,
    agentConfig: { button: { sosHoldMs: HOLD_MS, debounceMs: DEBOUNCE_MS, pollMs: SYSFS_POLL_MS, resendS: 600 } },
  });
  try {
    await world.agent.waitForLine(backend === 'sysfs' ? 'sysfs watching button line' : 'gpiomon watching button line');
    await world.gpiod?.waitForMonitor();
    await world.agent.waitForLine('"msg":"connected"');
    const line = world.gpiod ?? world.gpio;
    const latencies: number[] = [];
    const detect: number[] = [];
    const make: number[] = [];
    const deliver: number[] = [];
    const raisedLogAt = new Map<string, number>();
    let seen = 0;
    const collectLog = () => {
      for (; seen < world.agent.lines.length; seen++) {
        const l = world.agent.lines[seen];
        if (!l.includes('"msg":"SOS raised"')) continue;
        const j = JSON.parse(l) as { time: number; alarmId: string };
        raisedLogAt.set(j.alarmId, j.time);
      }
    };
    let requests = 0;
    for (let i = 0; i < PRESSES; i++) {
      const raised = nextAlarm(world.ingest, (a) => a.state === 'raised');
      const pressedAt = now();
      line.press();
      await sleep(HOLD_MS + 100);
      line.release();
      const { alarm, at } = await raised;
      const threshold = pressedAt + HOLD_MS;
      latencies.push(at - threshold);
      collectLog();
      const logged = raisedLogAt.get(alarm.alarmId);
      if (logged !== undefined) {
        detect.push(logged - threshold);
        make.push(alarm.ts - logged);
      }
      deliver.push(at - alarm.ts);
      const resolved = nextAlarm(world.ingest, (a) => a.alarmId === alarm.alarmId && a.state === 'resolved');
      await world.ingest.sendCommand(world.deviceId, 'alarm.resolve', { alarmId: alarm.alarmId }, 60_000, `bench-resolve-${backend}-${requests++}`);
      await resolved;
      await sleep(DEBOUNCE_MS + 20); // the release settles before the next press
    }
    const rejected = world.agent.lines.filter((l) => l.includes('SOS press while an alarm is active')).length;
    if (rejected > 0) process.stderr.write(`${backend}: ${rejected} press(es) found an alarm still active\n`);
    return { latencies, detect, make, deliver };
  } finally {
    await world.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

const broker = await Mosquitto.start();
try {
  for (const backend of backends) {
    const r = await measure(backend, broker.url);
    const bound = (backend === 'sysfs' ? SYSFS_POLL_MS : 0) + DEBOUNCE_MS;
    const p99 = percentile(r.latencies, 99);
    report({
      bench: 'alarm-latency',
      backend,
      presses: r.latencies.length,
      hold_ms: HOLD_MS,
      p50_ms: round(percentile(r.latencies, 50)),
      p99_ms: round(p99),
      max_ms: round(Math.max(...r.latencies)),
      bound_ms: bound,
      p99_minus_bound_ms: round(p99 - bound),
      breakdown_p50_ms: { detect: round(percentile(r.detect, 50)), make: round(percentile(r.make, 50)), deliver: round(percentile(r.deliver, 50)) },
      breakdown_p99_ms: { detect: round(percentile(r.detect, 99)), make: round(percentile(r.make, 99)), deliver: round(percentile(r.deliver, 99)) },
      ratio: round(p99 / (bound + GOAL_SLACK_MS), 3),
    });
  }
} finally {
  await broker.dispose();
}
