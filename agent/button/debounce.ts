import type { Scheduler, TimerHandle } from '../../lib/scheduler.js';

/** A settled level change: `at` is when the final transition happened, not when it was confirmed. */
export interface StableLevel {
  value: 0 | 1;
  at: number;
}

export interface DebounceOptions {
  /** A level must hold this long (ms) before it counts. */
  debounceMs: number;
}

export const defaultDebounceOptions: DebounceOptions = Object.freeze({ debounceMs: 30 });

/**
 * Turns raw line transitions into settled levels: a level counts only after it
 * has stayed put for `debounceMs`. Contact bounce and glitches shorter than
 * that never come out. Pure apart from the injected scheduler.
 */
export class Debouncer {
  readonly #scheduler: Scheduler;
  readonly #debounceMs: number;
  readonly #onStable: (level: StableLevel) => void;
  #stable: 0 | 1 | undefined;
  #candidate: StableLevel | undefined;
  #timer: TimerHandle | undefined;

  constructor(scheduler: Scheduler, onStable: (level: StableLevel) => void, opts: Partial<DebounceOptions> = {}) {
    const debounceMs = opts.debounceMs ?? defaultDebounceOptions.debounceMs;
    if (!(debounceMs >= 0)) throw new Error(`debounceMs must be >= 0, got ${debounceMs}`);
    this.#scheduler = scheduler;
    this.#debounceMs = debounceMs;
    this.#onStable = onStable;
  }

  /** Sets the known level without reporting it (e.g. the level read at start). */
  reset(value: 0 | 1): void {
    this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#candidate = undefined;
    this.#stable = value;
  }

  /** The last settled level, if any. */
  get level(): 0 | 1 | undefined {
    return this.#stable;
  }

  /** Feeds one raw observation (an edge or a level read). */
  input(value: 0 | 1, at: number): void {
    // A repeat of the pending level carries no new transition; restarting the
    // wait on it would let a periodic level read postpone a real press.
    if (this.#candidate !== undefined && this.#candidate.value === value) return;
    this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (value === this.#stable) {
      this.#candidate = undefined; // bounced back before settling
      return;
    }
    this.#candidate = { value, at };
    const wait = at + this.#debounceMs - this.#scheduler.now();
    this.#timer = this.#scheduler.setTimeout(() => this.#settle(), wait);
  }

  /** Cancels the pending timer. */
  dispose(): void {
    this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #settle(): void {
    this.#timer = undefined;
    const c = this.#candidate;
    this.#candidate = undefined;
    if (c === undefined || c.value === this.#stable) return;
    this.#stable = c.value;
    this.#onStable(c);
  }
}
