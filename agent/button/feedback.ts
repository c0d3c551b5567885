import type { OutputLine } from './gpio-line.js';
import type { Scheduler, TimerHandle } from '../../lib/scheduler.js';
import type { SosPhase } from './sos-machine.js';

export interface FeedbackOptions {
  /** Half-period of the blink while an alarm waits for acknowledgement (ms on, then ms off). */
  blinkMs: number;
}

export const defaultFeedbackOptions: FeedbackOptions = Object.freeze({ blinkMs: 250 });

/** What the LED does in each alarm phase. */
export function feedbackPattern(phase: SosPhase): 'blink' | 'on' | 'off' {
  if (phase === 'raised') return 'blink';
  if (phase === 'acknowledged') return 'on';
  return 'off';
}

/**
 * Shows the alarm phase on an optional LED/buzzer: blinking while raised and
 * unacknowledged (the wearer knows it is still trying), steady when someone
 * acknowledged, off otherwise. Without an output line it does nothing, so the
 * caller need not care whether one is fitted. Output errors go to `onError`
 * and never stop the blink: a failing LED must not disturb the alarm. Writes
 * are serialised and coalesced: while one is in progress only the newest
 * level waits, so a slow line skips blink steps instead of lagging behind.
 */
export class Feedback {
  readonly #out: OutputLine | undefined;
  readonly #s: Scheduler;
  readonly #blinkMs: number;
  readonly #onError: (err: Error) => void;
  #pattern: 'blink' | 'on' | 'off' | undefined;
  #level: 0 | 1 = 0;
  #timer: TimerHandle | undefined;
  #writes: Promise<void> = Promise.resolve();
  /** Level decided but not yet handed to the line. */
  #wanted: 0 | 1 | undefined;
  #draining = false;
  /** Level the line last took; undefined before the first write and after a failed one. */
  #applied: 0 | 1 | undefined;

  constructor(out: OutputLine | undefined, scheduler: Scheduler, opts: Partial<FeedbackOptions> & { onError?: (err: Error) => void } = {}) {
    this.#out = out;
    this.#s = scheduler;
    this.#blinkMs = opts.blinkMs ?? defaultFeedbackOptions.blinkMs;
    if (!(this.#blinkMs > 0)) throw new Error(`feedback.blinkMs must be positive, got ${this.#blinkMs}`);
    this.#onError = opts.onError ?? (() => {});
  }

  /** Switches to the pattern for `phase`; repeating the current phase changes nothing. */
  show(phase: SosPhase): void {
    const pattern = feedbackPattern(phase);
    if (pattern === this.#pattern) return;
    this.#pattern = pattern;
    this.#s.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (pattern === 'blink') {
      this.#write(1);
      this.#timer = this.#s.setTimeout(() => this.#toggle(), this.#blinkMs);
    } else {
      this.#write(pattern === 'on' ? 1 : 0);
    }
  }

  /** Resolves when every level written so far has been applied (or failed). */
  flush(): Promise<void> {
    return this.#writes;
  }

  /** Stops blinking and turns the output off. */
  async dispose(): Promise<void> {
    this.#s.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pattern = undefined;
    this.#write(0);
    await this.#writes;
  }

  #toggle(): void {
    this.#write(this.#level === 1 ? 0 : 1);
    this.#timer = this.#s.setTimeout(() => this.#toggle(), this.#blinkMs);
  }

  #write(level: 0 | 1): void {
    this.#level = level;
    const out = this.#out;
    if (out === undefined) return;
    this.#wanted = level;
    if (this.#draining) return; // the running drain picks up the newest level when its write finishes
    this.#draining = true;
    this.#writes = this.#drain(out);
  }

  /**
   * Applies levels one at a time, in order, always the newest wanted one: a
   * line slower than the blink (a gpioset spawned per level) must not build a
   * backlog that keeps blinking for seconds after the alarm was acknowledged
   * (seen end to end with the libgpiod stand-ins, test/alarm-ack-loop.test.ts).
   */
  async #drain(out: OutputLine): Promise<void> {
    try {
      for (let level = this.#wanted; level !== undefined; level = this.#wanted) {
        this.#wanted = undefined;
        if (level === this.#applied) continue; // toggled away and back while the last write ran
        try {
          await out.set(level);
          this.#applied = level;
        } catch (err) {
          this.#applied = undefined;
          this.#onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}
