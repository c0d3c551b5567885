// The alarm button end to end on each GPIO backend: the simulator's stand-in
// for sysfs, libgpiod v1 tools and libgpiod v2 tools drives the line, the agent
// runs as a real child process, alarms travel through Mosquitto to the ingest.
//
// Per backend: interference (three 20 ms pulses, which would be a triple press
// and so an SOS with tripleIsSos on, were they not debounced) raises nothing;
// each long press raises exactly one alarm, and that alarm is the long press's
// (raised after the hold threshold, not at the glitches). For gpiod, a gpiomon
// killed with SIGKILL is reported, restarted, and the button still works.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, makeTempDir, Mosquitto, nextStored, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });

interface Alarm { id: string; alarmId: string; state: string; escalation: number; raisedAt: number }
interface Event { kind: string; severity: string; message: string }
interface Result { requestId: string; status: string; reason?: string; result?: Record<string, unknown> }

const HOLD_MS = 1700; // past the default 1500 ms threshold, with room for the 30 ms debounce
const THRESHOLD_MS = 1500;
/** Released at least this long between presses: past the debounce and the 400 ms multi-press window. */
const RELEASE_MS = 500;
/**
 * The agent times the hold from the edge timestamp the GPIO tool reports and stamps raisedAt
 * with its own wall clock; the test reads its wall clock around the press. The two can disagree
 * by a millisecond (seen in CI). A glitch-triggered alarm would be early by ≥ 1.4 s, far beyond this.
 */
const CLOCK_SLACK_MS = 10;

const backends = ['sysfs', 'gpiod-v1', 'gpiod-v2'] as const;

describe.each(backends)('alarm button on the %s backend', (backend) => {
  const cleanup = new Cleanup();
  let mosquitto: Mosquitto;
  let world: World;

  beforeAll(async () => {
    mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir('nrec-alarm-'), (d) => d.remove());
    world = cleanup.add(
      await World.create({
        logger,
        workDir: dir.path,
        brokerUrl: mosquitto.url,
        buttonBackend: backend,
        autoFeed: false,
        // resendS 60: no re-send lands within a test, so every raised message is a raise.
        agentConfig: { button: { resendS: 60, tripleIsSos: true } },
      }),
      (w) => w.close(),
    );
    await waitFor('agent birth', () => world.ingest.stats.accepted.status);
    await world.agent.waitForLine(backend === 'sysfs' ? 'sysfs watching button line' : 'gpiomon watching button line');
    // The agent logs "watching" once gpiomon is spawned; edges reach it only once it holds the line.
    await world.gpiod?.waitForMonitor();
  });
  afterAll(() => cleanup.run());

  const line = () => world.gpiod ?? world.gpio;
  const alarms = () => readStream<Alarm>(world.storeDir, world.deviceId, 'alarm').map((r) => r.m);

  async function command(name: string, args: Record<string, unknown> = {}): Promise<Result> {
    const id = `t-${name.replaceAll('.', '_')}-${Math.random().toString(36).slice(2, 10)}`;
    const answered = nextStored<Result>(world.ingest, 'result', (r) => r.requestId === id);
    await world.ingest.sendCommand(world.deviceId, name, args, 60_000, id);
    return answered;
  }

  /** The next raised message of an alarm not stored so far (any such alarm, so a spurious one shows). */
  function nextRaised(): Promise<Alarm> {
    const known = new Set(alarms().map((a) => a.alarmId));
    return nextStored<Alarm>(world.ingest, 'alarm', (a) => a.state === 'raised' && !known.has(a.alarmId));
  }

  /**
   * When the last press was released. A person's release lasts far longer than the 30 ms debounce;
   * a press begun 16 ms after the previous release (seen when the resolve round trip was quick)
   * is, correctly, one press with a bounce in it, and raises nothing new.
   */
  let releasedAt = 0;

  /** Holds the button past the threshold; resolves with the next new raised alarm and when the press began (epoch ms). */
  async function longPress(raised = nextRaised()): Promise<{ alarm: Alarm; pressedAt: number }> {
    const wait = releasedAt + RELEASE_MS - Date.now();
    if (wait > 0) await sleep(wait); // the released time between two presses is the scenario
    const pressedAt = Date.now();
    await line().hold(HOLD_MS);
    releasedAt = Date.now();
    return { alarm: await raised, pressedAt };
  }

  async function resolveAlarm(alarmId: string): Promise<void> {
    const resolved = nextStored<Alarm>(world.ingest, 'alarm', (a) => a.alarmId === alarmId && a.state === 'resolved');
    const r = await command('alarm.resolve', { alarmId });
    expect(r.status, r.reason).toBe('ok');
    await resolved;
  }

  it('ignores 20 ms glitches and raises exactly one alarm per long press', async () => {
    const firstRaised = nextRaised(); // listening from before the glitches
    for (let i = 0; i < 3; i++) {
      await line().glitch(20);
      await sleep(60); // gaps longer than the debounce: undebounced, these are three presses
    }
    await sleep(500); // past the 400 ms multi-press window, so the long press is not part of a sequence

    const a = await longPress(firstRaised);
    // Raised by the long press: not before the hold threshold (a glitch SOS would be ~2 s earlier).
    expect(a.alarm.raisedAt, 'alarm raised before the long press reached its threshold (by the glitches?)').toBeGreaterThanOrEqual(a.pressedAt + THRESHOLD_MS - CLOCK_SLACK_MS);
    expect(a.alarm.escalation).toBe(0);
    await resolveAlarm(a.alarm.alarmId);

    // The second press is the barrier: it is classified after everything the first one caused.
    const b = await longPress();
    expect(b.alarm.alarmId).not.toBe(a.alarm.alarmId);
    expect(b.alarm.raisedAt).toBeGreaterThanOrEqual(b.pressedAt + THRESHOLD_MS - CLOCK_SLACK_MS);
    await resolveAlarm(b.alarm.alarmId);

    const raised = alarms().filter((m) => m.state === 'raised');
    expect(raised.map((m) => [m.alarmId, m.escalation])).toEqual([[a.alarm.alarmId, 0], [b.alarm.alarmId, 0]]);
    expect(world.agent.lines.filter((l) => l.includes('SOS press while an alarm is active'))).toEqual([]);
    expect(world.ingest.stats.rejected).toBe(0);
  });

  if (backend !== 'sysfs') {
    it('restarts a gpiomon killed with SIGKILL, reports it, and still raises alarms', async () => {
      const gpiod = world.gpiod!;
      const pid = await gpiod.waitForMonitor();
      const fault = nextStored<Event>(world.ingest, 'event', (e) => e.kind === 'button.fault');
      const recovered = nextStored<Event>(world.ingest, 'event', (e) => e.kind === 'button.recovered');
      process.kill(pid, 'SIGKILL');
      expect((await fault).message).toMatch(/gpiomon exited \(SIGKILL\)/);
      await recovered;
      const restartedPid = await gpiod.waitForMonitor();
      expect(restartedPid).not.toBe(pid);

      const c = await longPress();
      expect(c.alarm.raisedAt).toBeGreaterThanOrEqual(c.pressedAt + THRESHOLD_MS - CLOCK_SLACK_MS);
      expect(c.alarm.escalation).toBe(0);
      await resolveAlarm(c.alarm.alarmId);
    });
  }
});
