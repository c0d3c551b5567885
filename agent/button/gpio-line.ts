import type { EventEmitter } from 'node:events';

/**
 * The GPIO line binding, in the style of serialport's bindings: a small,
 * promise-only interface with one implementation per OS mechanism (libgpiod
 * tools, sysfs) and stand-ins in `simulator/gpio/` that behave like the OS.
 *
 * Rules every InputLine follows:
 * - `start()` resolves once the line is configured and edges will be seen; it
 *   rejects (with the chip/line named) if the line cannot be found or opened.
 *   Calling it again while started is an error; after a rejection or `stop()`
 *   it may be called again, which is how a missing line is retried.
 * - `read()` resolves to the current logical level (after active-low). While
 *   monitoring it answers from the last known level, because the kernel grants a
 *   line to one requester at a time.
 * - `edge` events carry `{ value, at }`: `value` is the logical level after the
 *   change (1 = active = button pressed with the default wiring), `at` is a
 *   millisecond timestamp on the monotonic clock of {@link monotonicMs}. Edges
 *   alternate in value; a backend that notices a missed edge emits the level it
 *   found rather than inventing the missed pulse.
 * - `fault` `{ reason }` is emitted once when the line stops being observed
 *   (monitor died, file vanished); `recovered` `{ reason }` once when it is
 *   observed again. Neither is an error thrown at the caller: the line keeps
 *   retrying with backoff until `stop()`.
 * - `stop()` releases the line and every child process and timer; it is safe to
 *   call more than once and after a failed `start()`.
 */
export interface InputLine extends EventEmitter {
  /** Configures the line and begins watching it. */
  start(): Promise<void>;
  /** Current logical level (1 = active). */
  read(): Promise<0 | 1>;
  /** Releases the line; idempotent. */
  stop(): Promise<void>;
}

/**
 * An output for an LED or buzzer. `set()` resolves once the level is applied
 * (logical, after active-low); calls are serialised in order. `close()` leaves
 * the line released (its level then is whatever the hardware does).
 */
export interface OutputLine {
  /** Drives the line to a logical level. */
  set(value: 0 | 1): Promise<void>;
  /** Releases the line; idempotent. */
  close(): Promise<void>;
}

/** Payload of an `edge` event. */
export interface EdgeEvent {
  value: 0 | 1;
  at: number;
}

/** Payload of `fault` and `recovered` events. */
export interface LineFaultEvent {
  reason: string;
}

export type GpioBackend = 'gpiod' | 'sysfs';
export type GpioBias = 'pull-up' | 'pull-down' | 'disable' | 'as-is';

/** Where the line is and how it is wired. */
export interface GpioLineConfig {
  /** `gpiod`: libgpiod command-line tools (v1 or v2, detected); `sysfs`: /sys/class/gpio. */
  backend: GpioBackend;
  /** Chip name as the kernel knows it, e.g. `gpiochip0` (sysfs: matched against each chip's label or device name). */
  chip: string;
  /** Line name (e.g. `GPIO17`) or offset within the chip (e.g. 17). */
  line: string | number;
  /** True when the active (pressed) level is electrically low: button to ground with a pull-up. */
  activeLow: boolean;
  /** Pull resistor to request; sysfs cannot set bias, so it is ignored there. */
  bias: GpioBias;
  /** sysfs: how often `value` is read, in ms. */
  pollMs: number;
  /** gpiod: how often the level is re-read to catch missed edges, in ms. */
  levelCheckMs: number;
  /** gpiod: directory holding gpiomon/gpioget/gpioset/gpiofind; unset means PATH. */
  toolsDir?: string;
  /** sysfs: root of the GPIO class directory. */
  sysfsRoot: string;
}

/** Defaults for the alarm button: GPIO17 on gpiochip0, to ground, internal pull-up. */
export const defaultInputConfig: GpioLineConfig = Object.freeze({
  backend: 'gpiod',
  chip: 'gpiochip0',
  line: 17,
  activeLow: true,
  bias: 'pull-up',
  pollMs: 10,
  levelCheckMs: 1000,
  sysfsRoot: '/sys/class/gpio',
});

/** Defaults for an LED/buzzer output: driven high = on, no bias. */
export const defaultOutputConfig: GpioLineConfig = Object.freeze({
  ...defaultInputConfig,
  line: 27,
  activeLow: false,
  bias: 'as-is',
});

/** Fills unset options from `base` and rejects values that cannot work, naming the option. */
export function resolveLineConfig(partial: Partial<GpioLineConfig>, base: GpioLineConfig = defaultInputConfig): GpioLineConfig {
  const cfg: GpioLineConfig = { ...base, ...stripUndefined(partial) };
  if (cfg.backend !== 'gpiod' && cfg.backend !== 'sysfs') throw new Error(`gpio.backend must be 'gpiod' or 'sysfs', got ${JSON.stringify(cfg.backend)}`);
  if (typeof cfg.chip !== 'string' || cfg.chip === '') throw new Error('gpio.chip must be a chip name such as gpiochip0');
  if (typeof cfg.line === 'number' ? !Number.isInteger(cfg.line) || cfg.line < 0 : cfg.line === '') {
    throw new Error(`gpio.line must be a line name or a non-negative offset, got ${JSON.stringify(cfg.line)}`);
  }
  if (!['pull-up', 'pull-down', 'disable', 'as-is'].includes(cfg.bias)) throw new Error(`gpio.bias must be pull-up, pull-down, disable or as-is, got ${JSON.stringify(cfg.bias)}`);
  if (!(cfg.pollMs >= 1)) throw new Error(`gpio.pollMs must be at least 1, got ${cfg.pollMs}`);
  if (!(cfg.levelCheckMs >= 10)) throw new Error(`gpio.levelCheckMs must be at least 10, got ${cfg.levelCheckMs}`);
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export { monotonicMs } from '../../lib/scheduler.js';
