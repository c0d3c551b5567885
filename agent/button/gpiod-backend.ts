import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Logger } from '../../lib/logger.js';
import { getArgs, isBusyError, monitorArgs, parseGetOutput, parseGpiodVersion, parseGpiofind, parseMonitorLine, setArgs, type GpiodLineRef, type GpiodVersion } from './gpiod-commands.js';
import type { EdgeEvent, GpioLineConfig, InputLine, LineFaultEvent, OutputLine } from './gpio-line.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../../lib/scheduler.js';
import { endProcesses, findToolProcesses } from './leftover-tools.js';
import { missingToolError, runTool, toolPath } from './tool-process.js';

export interface GpiodBackendOptions {
  scheduler?: Scheduler;
  logger?: Logger;
  /** First restart delay after gpiomon dies (ms); doubles up to `restartMaxMs`. */
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** gpiomon must stay up this long (ms) before the line counts as recovered. */
  stableMs?: number;
}

/** Asks gpiomon which libgpiod major version is installed. */
export async function detectGpiodVersion(toolsDir: string | undefined): Promise<GpiodVersion> {
  const run = await runTool(toolsDir, 'gpiomon', ['--version']);
  if (run.code !== 0) throw new Error(`gpiomon --version failed (exit ${run.code}): ${run.stderr.trim()}`);
  return parseGpiodVersion(run.stdout);
}

/** Finds the chip and line argument the tools need; v1 cannot take names, so it asks gpiofind. */
export async function resolveGpiodLine(version: GpiodVersion, cfg: GpioLineConfig): Promise<GpiodLineRef> {
  if (typeof cfg.line === 'number' || /^\d+$/.test(cfg.line)) return { chip: cfg.chip, line: Number(cfg.line) };
  if (version === 2) return { chip: cfg.chip, line: cfg.line };
  const run = await runTool(cfg.toolsDir, 'gpiofind', [cfg.line]);
  const found = run.code === 0 ? parseGpiofind(run.stdout) : undefined;
  if (found === undefined) {
    // gpiofind says nothing when no chip has a line of that name: the cause is then ours to state.
    const said = (run.stderr.trim() || run.stdout.trim()).split('\n')[0];
    const offset = /^GPIO(\d+)$/i.exec(cfg.line)?.[1];
    throw new Error(`GPIO line ${JSON.stringify(cfg.line)} not found: ${said === '' || said === undefined ? 'no GPIO chip has a line of that name' : said} (gpiofind exit ${run.code}); list the line names with gpioinfo, or set button.line to the line's offset${offset === undefined ? '' : ` (${offset} for ${cfg.line} on a Raspberry Pi's gpiochip0)`}`);
  }
  return { chip: found.chip, line: found.offset };
}

/**
 * Input line on the libgpiod tools: one long-running `gpiomon` for edges, and
 * `gpioget` for the level at start, after every monitor restart (the window in
 * which edges can be lost) and every `levelCheckMs`. The kernel grants a line to
 * one requester, so while gpiomon holds it gpioget usually fails with EBUSY; the
 * periodic check then switches itself off after saying so once, and missed
 * edges are caught at restarts and from two same-direction edges in a row.
 */
export class GpiodInputLine extends EventEmitter implements InputLine {
  readonly #cfg: GpioLineConfig;
  readonly #s: Scheduler;
  readonly #log: Logger | undefined;
  readonly #restartInitialMs: number;
  readonly #restartMaxMs: number;
  readonly #stableMs: number;
  #version: GpiodVersion | undefined;
  #ref: GpiodLineRef | undefined;
  #child: ChildProcess | undefined;
  #level: 0 | 1 | undefined;
  #started = false;
  #stopping = false;
  #faulted = false;
  #restartDelay: number;
  #restartTimer: TimerHandle | undefined;
  #stableTimer: TimerHandle | undefined;
  #checkTimer: TimerHandle | undefined;
  #periodicCheck = true;
  #checking = false;

  constructor(cfg: GpioLineConfig, opts: GpiodBackendOptions = {}) {
    super();
    this.#cfg = cfg;
    this.#s = opts.scheduler ?? realScheduler;
    this.#log = opts.logger;
    this.#restartInitialMs = opts.restartInitialMs ?? 100;
    this.#restartMaxMs = opts.restartMaxMs ?? 5000;
    this.#stableMs = opts.stableMs ?? 250;
    this.#restartDelay = this.#restartInitialMs;
  }

  /** The detected tools version (after start). */
  get version(): GpiodVersion | undefined {
    return this.#version;
  }

  /** Process id of the running gpiomon, if any. */
  get monitorPid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('GPIO line already started');
    this.#started = true;
    this.#stopping = false;
    this.#faulted = false;
    this.#restartDelay = this.#restartInitialMs;
    try {
      this.#version = await detectGpiodVersion(this.#cfg.toolsDir);
      this.#ref = await resolveGpiodLine(this.#version, this.#cfg);
      let level = await this.#get();
      if (level.value === undefined && level.busy && (await this.#reclaim())) level = await this.#get();
      if (level.value === undefined) throw new Error(`cannot read GPIO ${this.#describe()}: ${level.error}`);
      this.#level = level.value;
      await this.#spawnMonitor();
    } catch (err) {
      // A failed start may be retried (the caller keeps trying while the line is missing).
      this.#started = false;
      throw err;
    }
    this.#log?.info({ version: this.#version, chip: this.#ref.chip, line: this.#ref.line, level: this.#level }, 'gpiomon watching button line');
    this.#armCheck();
  }

  /** Ends a gpiomon of a previous agent (killed without cleanup) that still holds our line; true if there was one. */
  async #reclaim(): Promise<boolean> {
    const ref = this.#ref;
    const version = this.#version;
    if (ref === undefined || version === undefined) return false;
    const exe = toolPath(this.#cfg.toolsDir, 'gpiomon');
    const pids = await findToolProcesses(exe, [monitorArgs(version, ref, this.#cfg.activeLow, this.#cfg.bias)]);
    if (pids.length === 0) return false;
    this.#log?.warn({ pids, chip: ref.chip, line: ref.line }, 'ending gpiomon left behind by a previous agent: it holds the button line');
    await endProcesses(pids);
    return true;
  }

  async read(): Promise<0 | 1> {
    if (this.#child !== undefined && this.#level !== undefined) return this.#level;
    if (this.#version === undefined) this.#version = await detectGpiodVersion(this.#cfg.toolsDir);
    if (this.#ref === undefined) this.#ref = await resolveGpiodLine(this.#version, this.#cfg);
    const level = await this.#get();
    if (level.value === undefined) throw new Error(`cannot read GPIO ${this.#describe()}: ${level.error}`);
    return level.value;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const t of [this.#restartTimer, this.#stableTimer, this.#checkTimer]) this.#s.clearTimeout(t);
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    this.#started = false;
  }

  #describe(): string {
    return `${this.#ref?.chip ?? this.#cfg.chip} line ${this.#ref?.line ?? this.#cfg.line}`;
  }

  async #get(): Promise<{ value: 0 | 1; error?: undefined } | { value?: undefined; error: string; busy: boolean }> {
    const ref = this.#ref;
    const version = this.#version;
    if (ref === undefined || version === undefined) return { error: 'line not resolved', busy: false };
    const run = await runTool(this.#cfg.toolsDir, 'gpioget', getArgs(version, ref, this.#cfg.activeLow, this.#cfg.bias));
    const value = run.code === 0 ? parseGetOutput(run.stdout) : undefined;
    if (value !== undefined) return { value };
    return { error: `gpioget exit ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`, busy: isBusyError(run.stderr) };
  }

  async #spawnMonitor(): Promise<void> {
    const ref = this.#ref;
    const version = this.#version;
    if (ref === undefined || version === undefined) throw new Error('GPIO line not resolved');
    const child = spawn(toolPath(this.#cfg.toolsDir, 'gpiomon'), monitorArgs(version, ref, this.#cfg.activeLow, this.#cfg.bias), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-500);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.#onMonitorLine(version, line));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(missingToolError('gpiomon', this.#cfg.toolsDir, err)));
    });
    this.#child = child;
    child.once('exit', (code, signal) => this.#onMonitorExit(child, code, signal, stderr));
  }

  #onMonitorLine(version: GpiodVersion, line: string): void {
    const edge = parseMonitorLine(version, line);
    if (edge === undefined) {
      if (line.trim() !== '') this.#log?.debug({ line }, 'ignoring gpiomon output');
      return;
    }
    const now = this.#s.now();
    // Kernels before 5.7 stamp v1 events with the realtime clock; those stamps
    // cannot be compared with ours, so fall back to the arrival time.
    const at = Math.abs(edge.tsMs - now) < 10_000 ? Math.min(edge.tsMs, now) : now;
    if (edge.value === this.#level) {
      // Two same-direction edges: the opposite one in between was lost. The
      // level is unchanged, so there is nothing new to report.
      this.#log?.warn({ value: edge.value }, 'gpiomon reported the same edge twice; an edge was lost');
      return;
    }
    this.#setLevel(edge.value, at);
  }

  #setLevel(value: 0 | 1, at: number): void {
    if (value === this.#level) return;
    this.#level = value;
    this.emit('edge', { value, at } satisfies EdgeEvent);
  }

  #onMonitorExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (this.#child === child) this.#child = undefined;
    if (this.#stopping) return;
    this.#s.clearTimeout(this.#stableTimer);
    const reason = `gpiomon exited (${signal ?? `code ${code}`})${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`;
    if (!this.#faulted) {
      this.#faulted = true;
      this.#log?.error({ reason, chip: this.#ref?.chip, line: this.#ref?.line }, 'button line lost');
      this.emit('fault', { reason } satisfies LineFaultEvent);
    }
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(this.#restartMaxMs, this.#restartDelay * 2);
    this.#restartTimer = this.#s.setTimeout(() => void this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    this.#restartTimer = undefined;
    if (this.#stopping) return;
    try {
      // The line is free while gpiomon is down: read it to catch what was missed.
      const level = await this.#get();
      if (level.value === undefined) throw new Error(level.error);
      if (this.#stopping) return;
      this.#setLevel(level.value, this.#s.now());
      await this.#spawnMonitor();
    } catch (err) {
      this.#log?.warn({ err: (err as Error).message, retryMs: this.#restartDelay }, 'gpiomon restart failed');
      if (!this.#stopping) this.#scheduleRestart();
      return;
    }
    if (this.#stopping) {
      await this.stop();
      return;
    }
    const child = this.#child;
    this.#stableTimer = this.#s.setTimeout(() => {
      if (this.#child !== child || !this.#faulted) return;
      this.#faulted = false;
      this.#restartDelay = this.#restartInitialMs;
      this.#log?.info({ pid: child?.pid }, 'button line recovered');
      this.emit('recovered', { reason: 'gpiomon restarted' } satisfies LineFaultEvent);
    }, this.#stableMs);
  }

  #armCheck(): void {
    if (!this.#periodicCheck || this.#stopping) return;
    this.#checkTimer = this.#s.setTimeout(() => void this.#check(), this.#cfg.levelCheckMs);
  }

  async #check(): Promise<void> {
    this.#checkTimer = undefined;
    if (this.#stopping || this.#checking) return;
    if (this.#child !== undefined) {
      this.#checking = true;
      try {
        const before = this.#level;
        const level = await this.#get();
        if (level.value !== undefined) {
          // Only trust the read if no edge arrived meanwhile; otherwise the edge is newer.
          if (before === this.#level && level.value !== this.#level && !this.#stopping) {
            this.#log?.warn({ level: level.value }, 'level check found a missed edge');
            this.#setLevel(level.value, this.#s.now());
          }
        } else if (level.busy) {
          this.#periodicCheck = false;
          this.#log?.info('gpiomon holds the line exclusively; level checks run only when gpiomon restarts');
        } else {
          this.#log?.warn({ err: level.error }, 'level check failed');
        }
      } catch (err) {
        this.#log?.warn({ err: (err as Error).message }, 'level check failed');
      } finally {
        this.#checking = false;
      }
    }
    this.#armCheck();
  }
}

/**
 * Output line on gpioset. Each level is held by a gpioset that runs until it is
 * sent SIGTERM (v1 `--mode=signal`; v2 does so by default), because the line
 * reverts when the last holder exits; a new level replaces the previous holder.
 */
export class GpiodOutputLine implements OutputLine {
  readonly #cfg: GpioLineConfig;
  readonly #log: Logger | undefined;
  #version: GpiodVersion | undefined;
  #ref: GpiodLineRef | undefined;
  #child: ChildProcess | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #reclaimed = false;
  readonly #settleMs: number;

  constructor(cfg: GpioLineConfig, opts: { logger?: Logger; settleMs?: number } = {}) {
    this.#cfg = cfg;
    this.#log = opts.logger;
    this.#settleMs = opts.settleMs ?? 50;
  }

  set(value: 0 | 1): Promise<void> {
    const next = this.#queue.then(() => this.#apply(value));
    this.#queue = next.catch(() => {});
    return next;
  }

  close(): Promise<void> {
    this.#closed = true;
    const next = this.#queue.then(() => this.#release());
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(value: 0 | 1): Promise<void> {
    if (this.#closed) throw new Error('GPIO output line is closed');
    if (this.#version === undefined) this.#version = await detectGpiodVersion(this.#cfg.toolsDir);
    if (this.#ref === undefined) this.#ref = await resolveGpiodLine(this.#version, this.#cfg);
    if (!this.#reclaimed) {
      // Before our first claim: a gpioset of a previous agent killed without cleanup
      // would hold the line for ever (it never notices). v1 gives a busy gpioset
      // no reliable time to fail within settleMs, so look rather than wait for EBUSY.
      this.#reclaimed = true;
      const args = ([0, 1] as const).map((v) => setArgs(this.#version!, this.#ref!, this.#cfg.activeLow, v));
      const pids = await findToolProcesses(toolPath(this.#cfg.toolsDir, 'gpioset'), args);
      if (pids.length > 0) {
        this.#log?.warn({ pids, chip: this.#ref.chip, line: this.#ref.line }, 'ending gpioset left behind by a previous agent: it holds the output line');
        await endProcesses(pids);
      }
    }
    await this.#release();
    const version = this.#version;
    const child = spawn(toolPath(this.#cfg.toolsDir, 'gpioset'), setArgs(version, this.#ref, this.#cfg.activeLow, value), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-500);
    });
    this.#child = child;
    // Applied when v2 prints its banner; v1 says nothing, so a v1 gpioset that
    // is still running after settleMs is taken to hold the line.
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error): void => {
        if (timer !== undefined) clearTimeout(timer);
        child.off('exit', onExit);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#child === child) this.#child = undefined;
        done(new Error(`gpioset could not set ${this.#ref?.chip} line ${this.#ref?.line} to ${value} (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      };
      child.once('error', (err) => done(missingToolError('gpioset', this.#cfg.toolsDir, err)));
      child.on('exit', onExit);
      if (version === 2) createInterface({ input: child.stdout! }).once('line', () => done());
      else child.once('spawn', () => (timer = setTimeout(() => done(), this.#settleMs)));
    });
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      this.#log?.warn({ code, signal, stderr: stderr.trim() }, 'gpioset exited on its own; output level no longer held');
    });
  }

  async #release(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}
