// The acknowledgement loop end to end, per GPIO backend: an SOS is re-sent
// every second with a rising escalation until the platform's alarm.ack; then
// an `acknowledged` message arrives, re-sending stops, and the feedback LED
// goes from blinking to steady on. A kill -9 of the agent between raise and
// ack does not end the loop: the restarted agent resumes re-sending the same
// alarm with the escalation still rising (the restarted agent re-sends the
// last escalation at once, since it may not have been durable when it died),
// and the ack then stops it.
//
// "Stops" is a claim about a stretch of time, so the test lets several resend
// intervals pass (the window is the scenario, not a wait for an event), then
// uses a ping's result as the barrier: anything the agent put in the alarm
// lane before answering would be stored before that result (alarm outranks result).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, makeTempDir, Mosquitto, nextStored, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Alarm { id: string; bootId: string; alarmId: string; state: string; escalation: number; raisedAt: number }
interface Result { requestId: string; status: string; reason?: string; result?: Record<string, unknown> }

const RESEND_S = 1;
const LED = 27;
const backends = ['sysfs', 'gpiod-v1', 'gpiod-v2'] as const;

/** A world whose agent re-sends every second and drives an LED on line 27; records the LED's level changes. */
async function ackWorld(backend: (typeof backends)[number]) {
  const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
  const dir = cleanup.add(await makeTempDir('nrec-alarm-'), (d) => d.remove());
  const world = cleanup.add(
    await World.create({ logger, workDir: dir.path, brokerUrl: mosquitto.url, buttonBackend: backend, autoFeed: false, agentConfig: { button: { resendS: RESEND_S, feedbackLine: LED } } }),
    (w) => w.close(),
  );
  const led: Array<{ level: 0 | 1; at: number }> = [];
  if (world.gpiod !== undefined) {
    world.gpiod.on('output', (e: { offset: number; physical: 0 | 1 }) => {
      if (e.offset === LED) led.push({ level: e.physical, at: Date.now() });
    });
  } else {
    const gpio = world.gpio.gpioNumber('gpiochip0', LED);
    world.gpio.on('output', (e: { gpio: number; physical: 0 | 1 }) => {
      if (e.gpio === gpio) led.push({ level: e.physical, at: Date.now() });
    });
  }
  const ledLevel = () => (world.gpiod !== undefined ? world.gpiod.outputLevel(LED) : world.gpio.outputLevel(world.gpio.gpioNumber('gpiochip0', LED)));
  await waitFor('agent birth', () => world.ingest.stats.accepted.status);
  await ready(world, backend);
  return { world, led, ledLevel };
}

/** Waits until the button line is watched (for gpiod: until gpiomon holds it, when edges start to count). */
async function ready(world: World, backend: string): Promise<void> {
  await world.agent.waitForLine(backend === 'sysfs' ? 'sysfs watching button line' : 'gpiomon watching button line');
  await world.gpiod?.waitForMonitor();
}

const alarmsOf = (world: World, alarmId: string) => readStream<Alarm>(world.storeDir, world.deviceId, 'alarm').map((r) => r.m).filter((a) => a.alarmId === alarmId);
const escalations = (world: World, alarmId: string) => alarmsOf(world, alarmId).filter((a) => a.state === 'raised').map((a) => a.escalation);

async function command(world: World, name: string, args: Record<string, unknown> = {}): Promise<Result> {
  const id = `t-${name.replaceAll('.', '_')}-${Math.random().toString(36).slice(2, 10)}`;
  const answered = nextStored<Result>(world.ingest, 'result', (r) => r.requestId === id);
  await world.ingest.sendCommand(world.deviceId, name, args, 60_000, id);
  return answered;
}

/** Presses SOS; resolves with the new alarm's id once its raise is stored. */
async function raise(world: World): Promise<string> {
  const raised = nextStored<Alarm>(world.ingest, 'alarm', (a) => a.state === 'raised' && a.escalation === 0);
  await world.pressSos(1700);
  return (await raised).alarmId;
}

/** Acknowledges, lets several resend intervals pass, and checks that nothing was re-sent after the acknowledgement. */
async function acknowledgeAndCheckQuiet(world: World, alarmId: string): Promise<{ ackedAt: number }> {
  const acknowledged = nextStored<Alarm>(world.ingest, 'alarm', (a) => a.alarmId === alarmId && a.state === 'acknowledged');
  const r = await command(world, 'alarm.ack', { alarmId });
  expect(r.status, r.reason).toBe('ok');
  expect(r.result).toMatchObject({ alarmId, state: 'acknowledged' });
  const ack = await acknowledged;
  const ackedAt = Date.now();
  await sleep(3 * RESEND_S * 1000 + 500);
  expect((await command(world, 'ping')).status).toBe('ok');
  const messages = alarmsOf(world, alarmId);
  const ackIndex = messages.findIndex((m) => m.id === ack.id);
  const after = messages.slice(ackIndex + 1);
  expect(after.map((m) => `${m.state}#${m.escalation}`), 'alarm messages stored after the acknowledgement').toEqual([]);
  // Every raise/re-send before the acknowledgement carries the ack's escalation or less.
  expect(Math.max(...messages.slice(0, ackIndex).map((m) => m.escalation))).toBeLessThanOrEqual(ack.escalation);
  return { ackedAt };
}

/** Level changes of the LED within [from, to). */
const changesBetween = (led: Array<{ level: 0 | 1; at: number }>, from: number, to = Number.POSITIVE_INFINITY) => led.filter((c) => c.at >= from && c.at < to);

describe.each(backends)('alarm acknowledgement loop on the %s backend', (backend) => {
  it('re-sends with rising escalation until alarm.ack, then stops; the LED blinks, then stays on', async () => {
    const { world, led, ledLevel } = await ackWorld(backend);
    const pressedAt = Date.now();
    const alarmId = await raise(world);
    await waitFor('three re-sends', () => escalations(world, alarmId).length >= 4, 15_000);
    expect(escalations(world, alarmId).slice(0, 4)).toEqual([0, 1, 2, 3]);

    const blink = changesBetween(led, pressedAt);
    expect(blink.length, `LED changes while raised: ${JSON.stringify(blink)}`).toBeGreaterThanOrEqual(4);
    expect(new Set(blink.map((c) => c.level))).toEqual(new Set([0, 1]));

    const { ackedAt } = await acknowledgeAndCheckQuiet(world, alarmId);
    // Steady: after a settling second (a blink write may have been in flight), no change, and on.
    expect(changesBetween(led, ackedAt + 1000), 'LED changes after the acknowledgement settled').toEqual([]);
    expect(ledLevel()).toBe(1);
    // A held LED line must not keep the agent from exiting on SIGTERM (null = it had to be killed).
    expect(await world.agent.stop(), 'agent exit code on SIGTERM').toBe(0);
  });

  it('resumes the loop for the same alarm after kill -9, escalation still rising, until the ack', async () => {
    const { world, led, ledLevel } = await ackWorld(backend);
    const alarmId = await raise(world);
    await waitFor('a re-send before the crash', () => escalations(world, alarmId).length >= 2, 15_000);

    await world.agent.kill9();
    const beforeCrash = Math.max(...escalations(world, alarmId));
    const restartedAt = Date.now();
    world.agent.spawn();
    await waitFor('two re-sends after the restart', () => escalations(world, alarmId).filter((e) => e > beforeCrash).length >= 2, 15_000);

    // Rising within each boot; across the restart the first re-send may repeat the last
    // escalation (its message might not have been durable when the process died), never go back.
    const raised = alarmsOf(world, alarmId).filter((a) => a.state === 'raised');
    const es = raised.map((a) => a.escalation);
    expect(new Set(raised.map((a) => a.bootId)).size, 'boots that sent this alarm').toBe(2);
    expect(es.every((e, i) => i === 0 || (raised[i].bootId === raised[i - 1].bootId ? e > es[i - 1] : e >= es[i - 1])), `escalations: ${es.join(',')}`).toBe(true);
    const raisedIds = new Set(readStream<Alarm>(world.storeDir, world.deviceId, 'alarm').map((r) => r.m.alarmId));
    expect([...raisedIds], 'alarms at the ingest: the crash must not start a new one').toEqual([alarmId]);
    await waitFor('the LED blinking again after the restart', () => changesBetween(led, restartedAt).length >= 4, 15_000);
    expect(new Set(changesBetween(led, restartedAt).map((c) => c.level))).toEqual(new Set([0, 1]));

    const { ackedAt } = await acknowledgeAndCheckQuiet(world, alarmId);
    expect(changesBetween(led, ackedAt + 1000), 'LED changes after the acknowledgement settled').toEqual([]);
    expect(ledLevel()).toBe(1);
  });
});
