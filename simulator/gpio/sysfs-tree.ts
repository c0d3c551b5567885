import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bounceButton, holdButton } from './button-gestures.js';

/** One chip in the simulated tree. */
export interface SysfsChipSpec {
  /** Runtime base number (512 on a Pi 4 with a 6.6 kernel, 571 on a Pi 5). */
  base: number;
  ngpio: number;
  label: string;
  /** Character device name, shown as `gpiochipN/device/<device>`. */
  device: string;
}

export interface SysfsGpioTreeOptions {
  /** Directory to build the tree in; a fresh temp dir when unset (removed by `close()`). */
  root?: string;
  chips?: SysfsChipSpec[];
  /** The button the press helpers act on. */
  button?: { device: string; offset: number };
  /** Physical level of the button at rest: 1 for a button to ground with a pull-up. */
  restLevel?: 0 | 1;
  /** How often the stand-in looks at the files the agent writes (ms). */
  scanMs?: number;
}

/** Emitted as `output` when an exported output line changes level. */
export interface SysfsOutputChange {
  gpio: number;
  physical: 0 | 1;
  at: number;
}

/**
 * A /sys/class/gpio look-alike in a temp directory, doing what the kernel
 * would: writes to `export`/`unexport` create and remove `gpioN/` (seen by
 * scanning every few ms, since a plain file cannot trap the write), `value`
 * reflects the physical level through `active_low`, and a `direction` of
 * `high`/`low` sets the output level. The press helpers change the physical
 * level of the button: pressed pulls a pull-up button to 0.
 *
 * Events: `export` (gpio number), `unexport` (gpio number), `output` (SysfsOutputChange).
 */
export class SysfsGpioTree extends EventEmitter {
  readonly root: string;
  readonly chips: readonly SysfsChipSpec[];
  readonly #ownsRoot: boolean;
  readonly #button: { device: string; offset: number };
  readonly #rest: 0 | 1;
  readonly #scanMs: number;
  readonly #physical = new Map<number, 0 | 1>();
  readonly #exported = new Map<number, { activeLow: string; direction: string; value: string }>();
  readonly #outputsSeen = new Set<number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: SysfsGpioTreeOptions = {}) {
    super();
    this.#ownsRoot = opts.root === undefined;
    this.root = opts.root ?? mkdtempSync(join(tmpdir(), 'nrec-sysfs-gpio-'));
    this.chips = opts.chips ?? [{ base: 512, ngpio: 54, label: 'pinctrl-bcm2711', device: 'gpiochip0' }];
    this.#button = opts.button ?? { device: 'gpiochip0', offset: 17 };
    this.#rest = opts.restLevel ?? 1;
    this.#scanMs = opts.scanMs ?? 2;
    mkdirSync(this.root, { recursive: true });
    for (const c of this.chips) {
      const dir = join(this.root, `gpiochip${c.base}`);
      mkdirSync(join(dir, 'device', c.device), { recursive: true });
      writeFileSync(join(dir, 'base'), `${c.base}\n`);
      writeFileSync(join(dir, 'ngpio'), `${c.ngpio}\n`);
      writeFileSync(join(dir, 'label'), `${c.label}\n`);
    }
    writeFileSync(join(this.root, 'export'), '');
    writeFileSync(join(this.root, 'unexport'), '');
    this.#physical.set(this.buttonGpio, this.#rest);
    this.#timer = setInterval(() => this.#scan(), this.#scanMs);
  }

  /** The global sysfs number of the button line (base + offset). */
  get buttonGpio(): number {
    return this.gpioNumber(this.#button.device, this.#button.offset);
  }

  /** base + offset for a line of a chip. */
  gpioNumber(device: string, offset: number): number {
    const chip = this.chips.find((c) => c.device === device);
    if (chip === undefined) throw new Error(`no simulated chip ${device}`);
    return chip.base + offset;
  }

  /** True once the agent has exported `gpio`. */
  isExported(gpio: number): boolean {
    return this.#exported.has(gpio);
  }

  /** Presses the button (physical level away from rest). */
  press(): void {
    this.setPhysical(this.buttonGpio, this.#rest === 1 ? 0 : 1);
  }

  /** Releases the button. */
  release(): void {
    this.setPhysical(this.buttonGpio, this.#rest);
  }

  /** Presses, waits `ms`, releases. */
  async hold(ms: number): Promise<void> {
    await holdButton(this, ms);
  }

  /** A short pulse, as from interference or a brushed button. */
  async glitch(ms: number): Promise<void> {
    await this.hold(ms);
  }

  /**
   * Contact bounce: toggles pressed/released, starting with pressed, waiting
   * each duration in `pattern` (ms), then settles on `end`.
   */
  async bounce(pattern: number[], end: 'pressed' | 'released' = 'pressed'): Promise<void> {
    await bounceButton(this, pattern, end);
  }

  /** Sets the physical level of any input line. */
  setPhysical(gpio: number, level: 0 | 1): void {
    this.#physical.set(gpio, level);
    this.#render(gpio);
  }

  /** Physical level an exported output line is driving, if any. */
  outputLevel(gpio: number): 0 | 1 | undefined {
    const line = this.#exported.get(gpio);
    if (line === undefined || line.direction !== 'out') return undefined;
    return this.#physical.get(gpio);
  }

  /** Removes `gpioN/` as if another process unexported it. */
  yank(gpio: number): void {
    this.#exported.delete(gpio);
    rmSync(join(this.root, `gpio${gpio}`), { recursive: true, force: true });
  }

  /** Stops scanning and removes the tree if this instance created it. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#ownsRoot) rmSync(this.root, { recursive: true, force: true });
  }

  #scan(): void {
    try {
      for (const n of this.#takeNumbers('export')) this.#export(n);
      for (const n of this.#takeNumbers('unexport')) this.#unexport(n);
      for (const gpio of this.#exported.keys()) this.#syncLine(gpio);
    } catch (err) {
      if (this.#timer !== undefined) this.emit('error', err);
    }
  }

  #takeNumbers(file: string): number[] {
    const path = join(this.root, file);
    const text = readFileSync(path, 'utf8');
    if (text.trim() === '') return [];
    writeFileSync(path, '');
    return text.split(/\s+/).filter((t) => /^\d+$/.test(t)).map(Number);
  }

  #export(gpio: number): void {
    if (this.#exported.has(gpio)) return; // the kernel answers EBUSY; a plain file cannot
    const chip = this.chips.find((c) => gpio >= c.base && gpio < c.base + c.ngpio);
    if (chip === undefined) return; // the kernel answers EINVAL
    const dir = join(this.root, `gpio${gpio}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'direction'), 'in\n');
    writeFileSync(join(dir, 'active_low'), '0\n');
    writeFileSync(join(dir, 'edge'), 'none\n');
    if (!this.#physical.has(gpio)) this.#physical.set(gpio, 0);
    this.#exported.set(gpio, { activeLow: '0', direction: 'in', value: '' });
    this.#render(gpio);
    this.emit('export', gpio);
  }

  #unexport(gpio: number): void {
    if (!this.#exported.delete(gpio)) return;
    rmSync(join(this.root, `gpio${gpio}`), { recursive: true, force: true });
    this.emit('unexport', gpio);
  }

  /** Picks up what the agent wrote into direction, active_low and (outputs) value. */
  #syncLine(gpio: number): void {
    const line = this.#exported.get(gpio);
    const dir = join(this.root, `gpio${gpio}`);
    if (line === undefined || !existsSync(dir)) return;
    const direction = readFileSync(join(dir, 'direction'), 'utf8').trim();
    const activeLow = readFileSync(join(dir, 'active_low'), 'utf8').trim();
    if (direction === 'high' || direction === 'low') {
      // Raw level, as the kernel does: 'high'/'low' ignore active_low.
      writeFileSync(join(dir, 'direction'), 'out\n');
      line.direction = 'out';
      this.#setOutput(gpio, direction === 'high' ? 1 : 0);
    } else if (direction !== '' && direction !== line.direction) {
      line.direction = direction;
    }
    if (activeLow !== '' && activeLow !== line.activeLow) {
      line.activeLow = activeLow;
      this.#render(gpio);
    }
    if (line.direction === 'out') {
      const written = readFileSync(join(dir, 'value'), 'utf8').trim();
      if ((written === '0' || written === '1') && written !== line.value) {
        const logical = written === '1' ? 1 : 0;
        this.#setOutput(gpio, (line.activeLow === '1' ? 1 - logical : logical) as 0 | 1);
      }
    }
  }

  #setOutput(gpio: number, physical: 0 | 1): void {
    const before = this.#physical.get(gpio);
    this.#physical.set(gpio, physical);
    this.#render(gpio);
    const first = !this.#outputsSeen.has(gpio);
    this.#outputsSeen.add(gpio);
    if (before !== physical || first) this.emit('output', { gpio, physical, at: Date.now() } satisfies SysfsOutputChange);
  }

  #render(gpio: number): void {
    const line = this.#exported.get(gpio);
    if (line === undefined) return;
    const p = this.#physical.get(gpio) ?? 0;
    const logical = line.activeLow === '1' ? 1 - p : p;
    line.value = String(logical);
    writeFileSync(join(this.root, `gpio${gpio}`, 'value'), `${logical}\n`);
  }
}
