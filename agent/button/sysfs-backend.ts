import { EventEmitter } from 'node:events';
import { readFile, readdir, writeFile, access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { EdgeEvent, GpioLineConfig, InputLine, LineFaultEvent, OutputLine } from './gpio-line.js';
import { realScheduler, type Scheduler, type TimerHandle } from '../../lib/scheduler.js';

/** A chip as sysfs shows it. */
export interface SysfsChip {
  dir: string;
  base: number;
  ngpio: number;
  label: string;
}

/**
 * Finds the sysfs directory of `chip` and its runtime `base`. The base is
 * assigned at boot (512 or 571 on current Raspberry Pi kernels), so it is never
 * assumed: each `gpiochipN` entry is matched by its label or by the character
 * device it belongs to (`gpiochipN/device/<chip>`).
 */
export async function findSysfsChip(root: string, chip: string): Promise<SysfsChip> {
  let entries: string[];
  try {
    entries = (await readdir(root)).filter((e) => /^gpiochip\d+$/.test(e));
  } catch (err) {
    throw new Error(`cannot list ${root}: ${(err as Error).message}; is the GPIO sysfs interface enabled (CONFIG_GPIO_SYSFS)?`);
  }
  const seen: string[] = [];
  for (const entry of entries) {
    const dir = join(root, entry);
    const label = (await readFile(join(dir, 'label'), 'utf8').catch(() => '')).trim();
    seen.push(`${entry} (${label})`);
    const byDevice = await access(join(dir, 'device', chip)).then(() => true, () => false);
    if (label !== chip && !byDevice) continue;
    const base = Number((await readFile(join(dir, 'base'), 'utf8')).trim());
    const ngpio = Number((await readFile(join(dir, 'ngpio'), 'utf8')).trim());
    if (!Number.isInteger(base) || !Number.isInteger(ngpio)) throw new Error(`${dir} has an unreadable base/ngpio`);
    return { dir, base, ngpio, label };
  }
  throw new Error(`GPIO chip ${JSON.stringify(chip)} not found under ${root}; chips there: ${seen.join(', ') || 'none'}`);
}

function lineOffset(cfg: GpioLineConfig): number {
  if (typeof cfg.line === 'number') return cfg.line;
  if (/^\d+$/.test(cfg.line)) return Number(cfg.line);
  throw new Error(`the sysfs GPIO backend needs a line offset, got the name ${JSON.stringify(cfg.line)}; use an offset or the gpiod backend`);
}

/** An exported sysfs line: its directory and whether we exported it (and so should unexport). */
interface ExportedLine {
  dir: string;
  number: number;
  exportedByUs: boolean;
}

async function exportLine(cfg: GpioLineConfig, s: Scheduler, timeoutMs = 3000): Promise<ExportedLine> {
  const chip = await findSysfsChip(cfg.sysfsRoot, cfg.chip);
  const offset = lineOffset(cfg);
  if (offset >= chip.ngpio) throw new Error(`line offset ${offset} is out of range for ${cfg.chip} (ngpio ${chip.ngpio})`);
  const number = chip.base + offset;
  const dir = join(cfg.sysfsRoot, `gpio${number}`);
  const present = await access(join(dir, 'value')).then(() => true, () => false);
  if (!present) await writeFile(join(cfg.sysfsRoot, 'export'), String(number));
  // The kernel creates the directory at once, but udev may still be fixing its
  // permissions; wait until the files are writable.
  const deadline = s.now() + timeoutMs;
  let rewriteAt = s.now() + 100;
  for (;;) {
    const ok = await access(join(dir, 'direction'), constants.W_OK).then(() => true, () => false);
    if (ok) break;
    if (s.now() > deadline) throw new Error(`exported gpio${number} (${cfg.chip} line ${offset}) but ${dir} did not become writable within ${timeoutMs} ms`);
    if (!present && s.now() > rewriteAt && !(await access(dir).then(() => true, () => false))) {
      // The kernel makes gpioN/ within the write itself, so if it is still missing our
      // write was lost: emulations built on a plain file (the simulator's tree) keep only
      // the last of two exports made at once (button and LED at start-up).
      rewriteAt = s.now() + 100;
      await writeFile(join(cfg.sysfsRoot, 'export'), String(number)).catch(() => {});
    }
    await new Promise<void>((r) => s.setTimeout(r, 5));
  }
  return { dir, number, exportedByUs: !present };
}

async function unexportLine(cfg: GpioLineConfig, line: ExportedLine | undefined): Promise<void> {
  if (line?.exportedByUs !== true) return;
  await writeFile(join(cfg.sysfsRoot, 'unexport'), String(line.number)).catch(() => {});
}

function parseValue(text: string): 0 | 1 | undefined {
  const t = text.trim();
  return t === '1' ? 1 : t === '0' ? 0 : undefined;
}

/**
 * Input line on /sys/class/gpio: exports `base+offset`, sets direction `in` and
 * `active_low` 0 (inverting in software when configured active-low), then reads `value` every
 * `pollMs`. Polling rather than `edge` + poll(2) keeps it portable and it is
 * cheap at 10 ms. Sysfs cannot set a pull resistor; configure it in the device
 * tree (e.g. `gpio=17=ip,pu` in config.txt). If the line vanishes (unexported
 * underneath us) it reports `fault`, re-exports with backoff, then `recovered`.
 */
export class SysfsInputLine extends EventEmitter implements InputLine {
  readonly #cfg: GpioLineConfig;
  readonly #s: Scheduler;
  readonly #log: Logger | undefined;
  #line: ExportedLine | undefined;
  #level: 0 | 1 | undefined;
  #timer: TimerHandle | undefined;
  #started = false;
  #stopping = false;
  #faulted = false;
  #retryMs = 100;

  constructor(cfg: GpioLineConfig, opts: { scheduler?: Scheduler; logger?: Logger } = {}) {
    super();
    this.#cfg = cfg;
    this.#s = opts.scheduler ?? realScheduler;
    this.#log = opts.logger;
  }

  /** The sysfs directory of the line (after start). */
  get path(): string | undefined {
    return this.#line?.dir;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('GPIO line already started');
    this.#started = true;
    this.#stopping = false;
    this.#faulted = false;
    try {
      // A line that vanished between export and configure (another process, or our own unexport
      // still being carried out) is exported again: ENOENT here is transient, not a missing chip.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#configure();
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
          await new Promise<void>((r) => this.#s.setTimeout(r, 20));
        }
      }
      this.#level = await this.#readValue();
    } catch (err) {
      // A failed start may be retried (the caller keeps trying while the line is missing).
      this.#started = false;
      throw err;
    }
    this.#log?.info({ path: this.#line?.dir, level: this.#level }, 'sysfs watching button line');
    this.#arm(this.#cfg.pollMs);
  }

  async read(): Promise<0 | 1> {
    if (this.#line === undefined) throw new Error('GPIO line not started');
    return this.#readValue();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#s.clearTimeout(this.#timer);
    this.#timer = undefined;
    await unexportLine(this.#cfg, this.#line);
    this.#started = false;
  }

  async #configure(): Promise<void> {
    const line = await exportLine(this.#cfg, this.#s);
    await writeFile(join(line.dir, 'direction'), 'in');
    // active_low is pinned to 0 and the inversion done here: the attribute
    // outlives an unexport, so a stale setting from another user would flip
    // the meaning, and emulations apply it with a delay. One place decides.
    await writeFile(join(line.dir, 'active_low'), '0');
    this.#line = line;
  }

  #logical(raw: 0 | 1): 0 | 1 {
    return this.#cfg.activeLow ? (raw === 1 ? 0 : 1) : raw;
  }

  async #readValue(): Promise<0 | 1> {
    const path = join(this.#line?.dir ?? '', 'value');
    // An empty read can happen while a writer replaces the file (emulations built on
    // plain files); it is not a level, so look again rather than fail the start.
    for (let attempt = 1; ; attempt++) {
      const text = await readFile(path, 'utf8');
      const v = parseValue(text);
      if (v !== undefined) return this.#logical(v);
      if (text !== '' || attempt >= 5) throw new Error(`unexpected content in ${path}: ${JSON.stringify(text)}`);
      await new Promise<void>((r) => this.#s.setTimeout(r, 2));
    }
  }

  #arm(ms: number): void {
    if (this.#stopping) return;
    this.#timer = this.#s.setTimeout(() => void this.#poll(), ms);
  }

  async #poll(): Promise<void> {
    this.#timer = undefined;
    try {
      if (this.#faulted) await this.#configure();
      const text = await readFile(join(this.#line?.dir ?? '', 'value'), 'utf8');
      const raw = parseValue(text);
      const v = raw === undefined ? undefined : this.#logical(raw);
      // An empty read can happen while a writer replaces the file; the next poll sees the value.
      if (v !== undefined && !this.#stopping) {
        if (this.#faulted) this.#recover();
        if (v !== this.#level) {
          this.#level = v;
          this.emit('edge', { value: v, at: this.#s.now() } satisfies EdgeEvent);
        }
      }
      this.#arm(this.#cfg.pollMs);
    } catch (err) {
      if (this.#stopping) return;
      if (!this.#faulted) {
        this.#faulted = true;
        this.#retryMs = 100;
        const reason = `cannot read ${this.#line?.dir ?? 'line'}/value: ${(err as Error).message}`;
        this.#log?.error({ reason }, 'button line lost');
        this.emit('fault', { reason } satisfies LineFaultEvent);
      }
      this.#arm(this.#retryMs);
      this.#retryMs = Math.min(5000, this.#retryMs * 2);
    }
  }

  #recover(): void {
    this.#faulted = false;
    this.#log?.info({ path: this.#line?.dir }, 'button line recovered');
    this.emit('recovered', { reason: 'line exported again' } satisfies LineFaultEvent);
  }
}

/** Output line on /sys/class/gpio: direction is set with the initial level in one write, so it never glitches. */
export class SysfsOutputLine implements OutputLine {
  readonly #cfg: GpioLineConfig;
  readonly #s: Scheduler;
  #line: ExportedLine | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(cfg: GpioLineConfig, opts: { scheduler?: Scheduler } = {}) {
    this.#cfg = cfg;
    this.#s = opts.scheduler ?? realScheduler;
  }

  set(value: 0 | 1): Promise<void> {
    const next = this.#queue.then(() => this.#apply(value));
    this.#queue = next.catch(() => {});
    return next;
  }

  close(): Promise<void> {
    this.#closed = true;
    const next = this.#queue.then(() => unexportLine(this.#cfg, this.#line));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(value: 0 | 1): Promise<void> {
    if (this.#closed) throw new Error('GPIO output line is closed');
    if (this.#line === undefined) {
      const line = await exportLine(this.#cfg, this.#s);
      await writeFile(join(line.dir, 'active_low'), this.#cfg.activeLow ? '1' : '0');
      // 'low'/'high' set direction and level together; with active_low the
      // physical level is inverted, so pick the word for the wanted logical level.
      const physical = this.#cfg.activeLow ? 1 - value : value;
      await writeFile(join(line.dir, 'direction'), physical === 1 ? 'high' : 'low');
      this.#line = line;
    }
    await writeFile(join(this.#line.dir, 'value'), String(value));
  }
}
