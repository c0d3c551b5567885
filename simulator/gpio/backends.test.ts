// The production GPIO backends (agent/button) against the OS-level stand-ins,
// with real child processes and real timers.
import { spawn } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Feedback, openInputLine, openOutputLine, PressPipeline, realScheduler, type EdgeEvent, type GpioLineConfig, type InputLine, type OutputLine, type PressEvent } from '../../agent/button/index.js';
import { monitorArgs, setArgs } from '../../agent/button/gpiod-commands.js';
import { createGpiodToolsStandIn, type GpiodLineController, type GpiodOutputChange } from './gpiod-tools.js';
import { SysfsGpioTree, type SysfsOutputChange } from './sysfs-tree.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves with the first `event` payload that satisfies `pred`; one listener, so back-to-back emits are not missed. */
function waitFor<T>(em: EventEmitter, event: string, pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (v: T): void => {
      if (!pred(v)) return;
      em.off(event, listener);
      resolve(v);
    };
    em.on(event, listener);
  });
}

/** Starts `line`, wires it into debounce + classification, and records everything it reports. */
async function watch(config: Partial<GpioLineConfig>) {
  const line: InputLine = openInputLine(config, realScheduler, undefined, { restartInitialMs: 50, stableMs: 200 });
  cleanups.push(() => line.stop());
  const edges: EdgeEvent[] = [];
  const presses: PressEvent[] = [];
  const faults: string[] = [];
  line.on('edge', (e: EdgeEvent) => edges.push(e));
  line.on('fault', () => faults.push('fault'));
  line.on('recovered', () => faults.push('recovered'));
  await line.start();
  const pipeline = new PressPipeline(line, realScheduler);
  cleanups.push(() => pipeline.dispose());
  pipeline.reset(await line.read(), realScheduler.now());
  pipeline.on('press', (e: PressEvent) => presses.push(e));
  const kinds = (): string[] => presses.map((p) => p.kind);
  return { line, pipeline, edges, presses, faults, kinds };
}

/** Drives a Feedback blink on `out` and resolves once `count` level changes reached the stand-in. */
async function observeBlink<E>(out: OutputLine, changes: EventEmitter, event: string, count: number, level: (e: E) => number, blinkMs = 100): Promise<number[]> {
  const seen: number[] = [];
  const done = new Promise<void>((resolve) => {
    changes.on(event, (e: E) => {
      seen.push(level(e));
      if (seen.length >= count) resolve();
    });
  });
  const feedback = new Feedback(out, realScheduler, { blinkMs });
  feedback.show('raised');
  await done;
  feedback.show('acknowledged');
  await feedback.dispose();
  await out.close();
  return seen;
}

describe('sysfs backend with SysfsGpioTree', () => {
  function tree(): SysfsGpioTree {
    const t = new SysfsGpioTree({ chips: [{ base: 512, ngpio: 54, label: 'pinctrl-bcm2711', device: 'gpiochip0' }] });
    cleanups.push(() => t.close());
    return t;
  }

  it('finds base 512, exports gpio529, and turns a 1.6 s hold into one edge pair and exactly one sos', async () => {
    const t = tree();
    const w = await watch({ backend: 'sysfs', sysfsRoot: t.root, chip: 'gpiochip0', line: 17 });
    expect(t.buttonGpio).toBe(529);
    expect(t.isExported(529)).toBe(true);
    expect(await w.line.read()).toBe(0);
    const sos = waitFor<PressEvent>(w.pipeline, 'press', (p) => p.kind === 'sos');
    await t.hold(1600);
    await sos;
    if (w.edges.length < 2) await waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 0);
    expect(w.edges.map((e) => e.value)).toEqual([1, 0]);
    expect(w.kinds()).toEqual(['long', 'sos']);
  });

  it('a 20 ms glitch gives no gesture; the press after it is a single short', async () => {
    const t = tree();
    const w = await watch({ backend: 'sysfs', sysfsRoot: t.root, line: 17 });
    await t.glitch(20);
    await sleep(60); // let the glitch end before the marker press starts
    const marker = waitFor<PressEvent>(w.pipeline, 'press');
    await t.hold(200);
    expect((await marker).kind).toBe('short');
    expect(w.kinds()).toEqual(['short']);
    expect(w.edges.length).toBeLessThanOrEqual(4);
  });

  it('reports fault when the line is unexported underneath it, re-exports, recovers and sees the next press', async () => {
    const t = tree();
    const w = await watch({ backend: 'sysfs', sysfsRoot: t.root, line: 17 });
    const fault = once(w.line, 'fault');
    const recovered = once(w.line, 'recovered');
    t.yank(529);
    await fault;
    await recovered;
    const edge = waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 1);
    t.press();
    await edge;
    expect(w.faults).toEqual(['fault', 'recovered']);
  });

  it('can be started again after stop (how the agent retries a line it could not read)', async () => {
    const t = tree();
    const line = openInputLine({ backend: 'sysfs', sysfsRoot: t.root, line: 17 });
    cleanups.push(() => line.stop());
    await line.start();
    // The kernel carries out an unexport before the write returns; the stand-in does it on its next
    // scan, so wait for it as the agent's retry backoff (≥ 250 ms) would.
    const unexported = once(t, 'unexport');
    await line.stop();
    await unexported;
    await line.start();
    expect(await line.read()).toBe(0);
    const edge = waitFor<EdgeEvent>(line, 'edge', (e) => e.value === 1);
    t.press();
    await edge;
    await expect(line.start()).rejects.toThrow(/already started/);
  });

  it('drives an output line: the feedback blink shows as level changes in the tree', async () => {
    const t = tree();
    const out = openOutputLine({ backend: 'sysfs', sysfsRoot: t.root, line: 27 });
    const levels = await observeBlink(out, t, 'output', 5, (e: SysfsOutputChange) => e.physical);
    expect(levels.slice(0, 5)).toEqual([1, 0, 1, 0, 1]);
  });
});

describe.each([1, 2] as const)('gpiod backend with libgpiod v%i tool stand-ins', (version) => {
  async function tools(extra: { exclusive?: boolean } = {}): Promise<GpiodLineController> {
    const c = await createGpiodToolsStandIn({ version, ...extra });
    cleanups.push(() => c.close());
    return c;
  }
  const lineName = version === 1 ? 'GPIO17' : 'GPIO17'; // v1 resolves it through gpiofind, v2 passes it on

  it('turns a 1.6 s hold into one edge pair and exactly one sos', async () => {
    const c = await tools();
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: lineName });
    await c.waitForMonitor();
    const sos = waitFor<PressEvent>(w.pipeline, 'press', (p) => p.kind === 'sos');
    await c.hold(1600);
    await sos;
    if (w.edges.length < 2) await waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 0);
    expect(w.edges.map((e) => e.value)).toEqual([1, 0]);
    expect(w.kinds()).toEqual(['long', 'sos']);
  });

  it('a 20 ms glitch gives edges but no gesture; the press after it is a single short', async () => {
    const c = await tools();
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17 });
    await c.waitForMonitor();
    const glitchEdges = waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 0);
    await c.glitch(20);
    await glitchEdges;
    const marker = waitFor<PressEvent>(w.pipeline, 'press');
    await c.hold(200);
    expect((await marker).kind).toBe('short');
    expect(w.kinds()).toEqual(['short']);
    expect(w.edges.map((e) => e.value)).toEqual([1, 0, 1, 0]);
  });

  it('contact bounce before a hold still gives exactly one sos', async () => {
    const c = await tools();
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17 });
    await c.waitForMonitor();
    const sos = waitFor<PressEvent>(w.pipeline, 'press', (p) => p.kind === 'sos');
    await c.bounce([2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    await sleep(1600);
    c.release();
    await sos;
    if (w.edges.at(-1)?.value !== 0) await waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 0);
    expect(w.edges.length).toBeGreaterThan(2);
    expect(w.kinds()).toEqual(['long', 'sos']);
  });

  it('says what is wrong when the line does not exist or the tools are missing', async () => {
    const c = await tools();
    const unknown = openInputLine({ backend: 'gpiod', toolsDir: c.toolsDir, line: 'NO_SUCH_LINE' });
    cleanups.push(() => unknown.stop());
    await expect(unknown.start()).rejects.toThrow(/NO_SUCH_LINE/);
    const missing = openInputLine({ backend: 'gpiod', toolsDir: join(c.toolsDir, 'nowhere'), line: 17 });
    cleanups.push(() => missing.stop());
    await expect(missing.start()).rejects.toThrow(/apt install gpiod/);
  });

  it('restarts gpiomon after kill -9, reports fault then recovered, and still sees presses', async () => {
    const c = await tools();
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17 });
    const first = await c.waitForMonitor();
    expect(c.monitorPidFromFile()).toBe(first);
    const fault = once(w.line, 'fault');
    const recovered = once(w.line, 'recovered');
    const next = waitFor<number>(c, 'monitor', (pid) => pid !== first);
    process.kill(first, 'SIGKILL');
    const [reason] = (await fault) as [{ reason: string }];
    expect(reason.reason).toMatch(/SIGKILL/);
    await recovered;
    await next;
    const edge = waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 1);
    c.press();
    await edge;
    expect(w.faults).toEqual(['fault', 'recovered']);
  });

  it('catches a press that happened while gpiomon was down', async () => {
    const c = await tools();
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17 });
    const pid = await c.waitForMonitor();
    const gone = waitFor<number>(c, 'monitor-exit', (p) => p === pid);
    process.kill(pid, 'SIGKILL');
    await gone;
    const edge = waitFor<EdgeEvent>(w.line, 'edge');
    c.press();
    expect((await edge).value).toBe(1);
  });

  it('ends a gpiomon and a gpioset a killed agent left holding its lines, and takes the lines', async () => {
    const c = await tools();
    // What kill -9 of an agent leaves behind: its tools, reparented, still holding the lines.
    const leftMon = spawn(join(c.toolsDir, 'gpiomon'), monitorArgs(version, { chip: c.chip, line: 17 }, true, 'pull-up'), { stdio: 'ignore' });
    cleanups.push(() => void leftMon.kill('SIGKILL'));
    expect(await c.waitForMonitor()).toBe(leftMon.pid);
    const leftSetHolds = waitFor<GpiodOutputChange>(c, 'output', (e) => e.offset === 27);
    const leftSet = spawn(join(c.toolsDir, 'gpioset'), setArgs(version, { chip: c.chip, line: 27 }, false, 1), { stdio: 'ignore' });
    cleanups.push(() => void leftSet.kill('SIGKILL'));
    expect((await leftSetHolds).pid).toBe(leftSet.pid);

    const ourMonitor = waitFor<number>(c, 'monitor', (pid) => pid !== leftMon.pid);
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17 });
    await ourMonitor;
    expect(leftMon.exitCode !== null || leftMon.signalCode !== null).toBe(true);
    const edge = waitFor<EdgeEvent>(w.line, 'edge', (e) => e.value === 1);
    c.press();
    await edge;

    const out = openOutputLine({ backend: 'gpiod', toolsDir: c.toolsDir, line: 27 }, realScheduler, undefined, { settleMs: version === 1 ? 400 : undefined });
    cleanups.push(() => out.close());
    const ourSet = waitFor<GpiodOutputChange>(c, 'output', (e) => e.offset === 27 && e.pid !== leftSet.pid);
    await out.set(0);
    expect((await ourSet).physical).toBe(0);
    expect(leftSet.exitCode !== null || leftSet.signalCode !== null).toBe(true);
  });

  it('leaves a holder running another command alone (start fails, naming EBUSY) and can be started again once the line is free', async () => {
    const c = await tools();
    const other = spawn(join(c.toolsDir, 'gpiomon'), monitorArgs(version, { chip: c.chip, line: 17 }, false, 'as-is'), { stdio: 'ignore' });
    cleanups.push(() => void other.kill('SIGKILL'));
    await c.waitForMonitor();
    const line = openInputLine({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17 });
    cleanups.push(() => line.stop());
    await expect(line.start()).rejects.toThrow(/busy/i);
    expect(other.exitCode).toBeNull();
    await line.stop();
    other.kill('SIGTERM');
    await once(other, 'exit');
    await line.start();
    await c.waitForMonitor();
    const edge = waitFor<EdgeEvent>(line, 'edge', (e) => e.value === 1);
    c.press();
    await edge;
  });

  it('the periodic level check catches an edge the kernel dropped, when the line can be read while monitored', async () => {
    const c = await tools({ exclusive: false });
    const w = await watch({ backend: 'gpiod', toolsDir: c.toolsDir, line: 17, levelCheckMs: 100 });
    await c.waitForMonitor();
    const edge = waitFor<EdgeEvent>(w.line, 'edge');
    c.setPhysical(17, 0, { lost: true });
    expect((await edge).value).toBe(1);
  });

  it('drives an output line through gpioset: the feedback blink shows as level changes', async () => {
    const c = await tools();
    // v1 gpioset gives no sign it holds the line; the C tool takes a millisecond
    // or two, the Node stand-in needs longer to start, hence the longer settle.
    const settleMs = version === 1 ? 400 : undefined;
    const out = openOutputLine({ backend: 'gpiod', toolsDir: c.toolsDir, line: 27 }, realScheduler, undefined, { settleMs });
    const levels = await observeBlink(out, c, 'output', 5, (e: GpiodOutputChange) => e.physical, version === 1 ? 500 : 250);
    expect(levels.slice(0, 5)).toEqual([1, 0, 1, 0, 1]);
    expect(c.outputLevel(27)).toBe(0);
  });
});
