// How long from the moment a long press becomes an SOS to the alarm stored at the platform?
// Per GPIO backend (the simulator's sysfs tree, libgpiod v1 and v2 tool stand-ins),
// idle link, real Mosquitto on loopback, the agent as a child process (World),
// the World's ingest (SQLite store) as the receiver.
//
// Ours: the agent. Each press holds the line for sosHoldMs + 100 ms; latency =
// ingest receipt ('stored', after its commit) − (press time + sosHoldMs), both on
// this process's clock, the press time taken as the pressed level is written.
// Baseline, same run, same line, broker and ingest (after the agent has
// stopped and released the line): the simplest pipeline that could work, a
// shell pipeline — `gpiomon` (the same stand-in the agent uses) or, for sysfs,
// a loop reading `value` every 10 ms, piped through a `while read` that prints
// an alarm message, piped to `mosquitto_pub -l -q 1`. It alarms at the press
// edge (no hold, no debounce, nothing durable, no re-send), so its latency is
// ingest receipt − press time: what the hardware, the tools, the broker and the
// ingest cost at the least. Ratio = ours p99 / baseline p99. Goal: ours p99 −
// baseline p99 ≤ 30 ms for what the agent adds (hold timer, SOS state and
// outbox fsyncs, pump). The debounce is not among them: a settled level keeps
// the time of its edge, so the hold timer runs from the edge and the SOS fires
// at edge + sosHoldMs whatever the debounce (shorter than the hold).
// Each alarm of ours is resolved (alarm.resolve) before the next press so it raises anew.
// Breakdown (p50 per segment, from the agent's log time and the message's
// envelope ts, both ms resolution): detect = "SOS raised" logged − threshold
// (edge seen, hold timer, SOS state fsync); make = envelope ts − raised log;
// deliver = receipt − envelope ts (outbox commit, pump, MQTT, broker, ingest commit).
// PRESSES (default 200), HOLD_MS (default 200, the config minimum is 100).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../lib/logger.js';
import type { Ingest } from '../platform/ingest/index.js';
import { World } from '../simulator/world.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { requireTool } from '../test/support/tools.js';
import { percentile, report, round } from './_report.js';

const PRESSES = Number(process.env.PRESSES ?? 200);
const HOLD_MS = Number(process.env.HOLD_MS ?? 200);
const DEBOUNCE_MS = 30;
const SYSFS_POLL_MS = 10;
const GOAL_SLACK_MS = 30;
/** Released this long at least between presses (a person cannot press again much sooner). */
const RELEASED_MS = 150;
const silent = createLogger('bench', { level: 'silent' });
const backends = ['sysfs', 'gpiod-v1', 'gpiod-v2'] as const;
type Backend = (typeof backends)[number];
/** BACKENDS: a comma-separated subset. */
const BACKENDS = (process.env.BACKENDS?.split(',') ?? backends) as Backend[];

interface Alarm { id: string; deviceId: string; alarmId: string; state: string; ts: number }

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

/**
 * The simplest pipeline that could work, as a shell would run it: edges (gpiomon, or a sysfs
 * polling loop) → one alarm message per press → mosquitto_pub, one connection, QoS 1.
 */
function startPipeline(world: World, backend: Backend, brokerPort: number, device: string): ChildProcess {
  const mosquittoPub = requireTool('mosquitto_pub', ['/usr/bin/mosquitto_pub']);
  const g = world.gpiod;
  const edges = backend === 'sysfs'
    ? `sysfs_edges() {
  g="$ROOT/gpio$GPIO"
  echo "$GPIO" > "$ROOT/export"
  while [ ! -e "$g/value" ]; do sleep 0.01; done
  echo in > "$g/direction"
  last=1
  while :; do
    read -r v < "$g/value" || v=
    if [ -n "$v" ]; then
      if [ "$v" = 0 ] && [ "$last" = 1 ]; then echo falling; fi
      last=$v
    fi
    sleep 0.01
  done
}
sysfs_edges`
    : backend === 'gpiod-v1' ? `gpiomon --line-buffered --falling-edge ${g!.chip} ${g!.buttonOffset}` : `gpiomon --edges=falling --chip ${g!.chip} ${g!.buttonOffset}`;
  const script = `${edges} | while read -r _; do
  t=\${EPOCHREALTIME/[.,]/}; t=\${t:0:13}
  printf '{"v":1,"id":"%s-ala-%d","deviceId":"%s","bootId":"%s","seq":%d,"ts":%d,"alarmId":"%s-%d","state":"raised","trigger":"button","raisedAt":%d,"escalation":0}\n' "$BOOT" "$n" "$DEV" "$BOOT" "$n" "$t" "$BOOT" "$n" "$t"
  n=$((n+1))
done | "$MOSQUITTO_PUB" -h 127.0.0.1 -p "$PORT" -i "$DEV" -t "nrec/v1/$DEV/alarm" -q 1 -l
`;
  const env = {
    ...process.env,
    PATH: g === undefined ? process.env.PATH : `${g.toolsDir}:${process.env.PATH ?? ''}`,
    ROOT: world.gpio.root, GPIO: String(world.gpio.buttonGpio), BOOT: randomBytes(9).toString('base64url'), DEV: device, PORT: String(brokerPort), MOSQUITTO_PUB: mosquittoPub, n: '0',
  };
  // Its own process group, so the whole pipeline ends together.
  return spawn('bash', ['-c', script], { env, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
}

async function stopPipeline(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
}

/** The same gestures on the same line, with the pipeline watching it instead of the agent. */
async function measureBaseline(world: World, backend: Backend, brokerPort: number): Promise<{ latencies: number[]; missed: number }> {
  const device = `bench-pipe-${backend}`;
  // The agent's gpiomon must have let go first, or the pipeline's would be refused (EBUSY).
  while (world.gpiod?.monitorPid() !== undefined) await sleep(5);
  const child = startPipeline(world, backend, brokerPort, device);
  const orphan = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', orphan);
  try {
    const line = world.gpiod ?? world.gpio;
    if (world.gpiod !== undefined) await world.gpiod.waitForMonitor();
    else while (!world.gpio.isExported(world.gpio.buttonGpio)) await sleep(5);
    const latencies: number[] = [];
    let missed = 0;
    // One press first, not counted: mosquitto_pub has connected once it is through.
    for (let i = -1; i < PRESSES; i++) {
      const raised = nextAlarm(world.ingest, (a) => a.deviceId === device, i < 0 ? 15_000 : 3000);
      const pressedAt = now();
      line.press();
      await sleep(HOLD_MS + 100);
      line.release();
      try {
        const { at } = await raised;
        if (i >= 0) latencies.push(at - pressedAt);
      } catch (err) {
        if (i < 0) throw new Error(`${backend} pipeline: the first press gave no alarm: ${(err as Error).message}`);
        missed++; // the pipeline has no re-send: a press it did not see is an alarm lost
      }
      await sleep(RELEASED_MS);
    }
    return { latencies, missed };
  } finally {
    await stopPipeline(child);
    process.off('exit', orphan);
  }
}

async function measure(backend: Backend, broker: Mosquitto) {
  const workDir = await mkdtemp(join(tmpdir(), 'nrec-bench-alarm-'));
  const world = await World.create({
    logger: silent,
    workDir,
    brokerUrl: broker.url,
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
      const { alarm, at } = await raised.catch((err: Error) => {
        throw new Error(`${backend}, press ${i}: the agent's alarm did not arrive: ${err.message}`);
      });
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
      await sleep(RELEASED_MS); // the release settles before the next press
    }
    const rejected = world.agent.lines.filter((l) => l.includes('SOS press while an alarm is active')).length;
    if (rejected > 0) process.stderr.write(`${backend}: ${rejected} press(es) found an alarm still active\n`);
    // The agent lets go of the line (gpiomon ends, sysfs unexported); the pipeline takes it.
    await world.agent.stop();
    const baseline = await measureBaseline(world, backend, broker.port);
    return { latencies, detect, make, deliver, baseline };
  } catch (err) {
    // The agent's log says why; it would go with the work directory.
    const kept = join(tmpdir(), `nrec-bench-alarm-latency-${backend}-agent.log`);
    await copyFile(join(workDir, 'agent.log'), kept).catch(() => undefined);
    throw new Error(`${(err as Error).message} (agent log: ${kept})`, { cause: err });
  } finally {
    await world.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

const broker = await Mosquitto.start();
try {
  for (const backend of BACKENDS) {
    const r = await measure(backend, broker);
    const p99 = percentile(r.latencies, 99);
    const baseP99 = percentile(r.baseline.latencies, 99);
    report({
      bench: 'alarm-latency',
      backend,
      presses: r.latencies.length,
      hold_ms: HOLD_MS,
      debounce_ms: DEBOUNCE_MS,
      ours: { p50_ms: round(percentile(r.latencies, 50)), p99_ms: round(p99), max_ms: round(Math.max(...r.latencies)) },
      baseline: { design: 'shell pipeline: edges | while read → alarm JSON | mosquitto_pub -l -q 1', p50_ms: round(percentile(r.baseline.latencies, 50)), p99_ms: round(baseP99), max_ms: round(Math.max(...r.baseline.latencies)), missed: r.baseline.missed },
      p99_excess_ms: round(p99 - baseP99),
      goal_excess_ms: GOAL_SLACK_MS,
      breakdown_p50_ms: { detect: round(percentile(r.detect, 50)), make: round(percentile(r.make, 50)), deliver: round(percentile(r.deliver, 50)) },
      breakdown_p99_ms: { detect: round(percentile(r.detect, 99)), make: round(percentile(r.make, 99)), deliver: round(percentile(r.deliver, 99)) },
      ratio: round(p99 / baseP99, 3),
    });
  }
} finally {
  await broker.dispose();
}
