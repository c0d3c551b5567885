/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime on Linux), the clock the
 * kernel stamps GPIO edge events with, so tool timestamps and our own readings
 * are comparable.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Opaque timer handle. */
export type TimerHandle = { readonly id: number } | NodeJS.Timeout;

/** The clock and timers the button logic runs on; injected so tests drive time by hand. */
export interface Scheduler {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Runs `fn` once after `ms` (clamped to >= 0). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** The production scheduler: CLOCK_MONOTONIC time and Node timers. */
export const realScheduler: Scheduler = Object.freeze({
  now: monotonicMs,
  setTimeout: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle: TimerHandle | undefined): void => {
    if (handle !== undefined && !isManualHandle(handle)) clearTimeout(handle);
  },
});

/**
 * Wall-clock time (epoch ms) with Node timers, for due times kept in a
 * database: they must mean the same after a restart and in another process,
 * which a monotonic reading does not. Timers are unref'd: they never keep a
 * process alive on their own.
 */
export const wallScheduler: Scheduler = Object.freeze({
  now: Date.now,
  setTimeout: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, Math.max(0, ms)).unref(),
  clearTimeout: realScheduler.clearTimeout,
});

function isManualHandle(h: TimerHandle): h is { readonly id: number } {
  return typeof (h as { id?: unknown }).id === 'number' && !('ref' in h);
}

interface ManualTimer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * A scheduler whose time moves only when a test calls `advance()`/`advanceTo()`.
 * Timers fire in due order (ties in creation order) and timers created while
 * advancing fire in the same call if they fall due.
 */
export class ManualScheduler implements Scheduler {
  #now: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, due: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined || !isManualHandle(handle)) return;
    this.#timers = this.#timers.filter((t) => t.id !== handle.id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** Moves time to `t` (never backwards), firing every timer due by then. */
  advanceTo(t: number): void {
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.due > t) break;
      this.#timers = this.#timers.filter((x) => x !== next);
      this.#now = Math.max(this.#now, next.due);
      next.fn();
    }
    this.#now = Math.max(this.#now, t);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.length;
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
}
