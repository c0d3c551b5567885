import type { StableLevel } from './debounce.js';
import type { Scheduler, TimerHandle } from '../../lib/scheduler.js';

export type PressKind = 'short' | 'double' | 'triple' | 'long' | 'sos' | 'cancel' | 'stuck' | 'unstuck';

/** One classified gesture; `at` is when it became certain, on the scheduler's clock. */
export interface PressEvent {
  kind: PressKind;
  at: number;
}

export type CancelGesture = 'short' | 'double' | 'triple' | 'none';

export interface PressClassifierOptions {
  /** Holding at least this long (ms) is a long press. */
  longPressMs: number;
  /** After a release, another press within this many ms continues the sequence (double, triple). */
  multiPressWindowMs: number;
  /** A long press raises SOS, at the moment the threshold is reached. */
  sosOnLongPress: boolean;
  /** A triple press raises SOS. */
  sosOnTriplePress: boolean;
  /** Held longer than this (ms) the button is reported stuck, once. */
  stuckMs: number;
  /** Gesture that cancels a recent SOS. */
  cancelGesture: CancelGesture;
  /** The cancel gesture counts only within this many ms after the SOS. */
  cancelWindowMs: number;
}

export const defaultPressClassifierOptions: PressClassifierOptions = Object.freeze({
  longPressMs: 1500,
  multiPressWindowMs: 400,
  sosOnLongPress: true,
  sosOnTriplePress: false,
  stuckMs: 30_000,
  cancelGesture: 'double',
  cancelWindowMs: 10_000,
});

/** Fills defaults and rejects contradictory settings, naming the options involved. */
export function resolvePressClassifierOptions(partial: Partial<PressClassifierOptions> = {}): PressClassifierOptions {
  const o: PressClassifierOptions = { ...defaultPressClassifierOptions };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) Object.assign(o, { [k]: v });
  for (const key of ['longPressMs', 'multiPressWindowMs', 'stuckMs', 'cancelWindowMs'] as const) {
    if (!(o[key] > 0)) throw new Error(`button.${key} must be a positive number of ms, got ${o[key]}`);
  }
  if (o.stuckMs <= o.longPressMs) throw new Error(`button.stuckMs (${o.stuckMs}) must exceed button.longPressMs (${o.longPressMs})`);
  if (o.sosOnTriplePress && o.cancelGesture === 'triple') {
    throw new Error('button.cancelGesture cannot be triple while button.sosOnTriplePress is on: the same gesture would raise and cancel');
  }
  if (!['short', 'double', 'triple', 'none'].includes(o.cancelGesture)) {
    throw new Error(`button.cancelGesture must be short, double, triple or none, got ${JSON.stringify(o.cancelGesture)}`);
  }
  return o;
}

/**
 * Classifies settled (debounced) levels, 1 = pressed, into gestures. SOS fires
 * when the hold threshold is reached, not on release. A held line past
 * `stuckMs` is reported once as `stuck` and once as `unstuck` on release, and
 * that release is not a gesture. A level found pressed at start (via `reset`)
 * is not a press: nobody was seen pressing it, and a button jammed at boot must
 * not raise an alarm on every restart; it can still become `stuck`.
 */
export class PressClassifier {
  readonly #s: Scheduler;
  readonly #o: PressClassifierOptions;
  readonly #emit: (e: PressEvent) => void;
  #pressed = false;
  #pressAt = 0;
  #seenPress = false; // false while a press that began before we watched is held
  #longFired = false;
  #stuck = false;
  #count = 0;
  #lastReleaseAt = 0;
  #lastSosAt: number | undefined;
  #holdTimer: TimerHandle | undefined;
  #stuckTimer: TimerHandle | undefined;
  #windowTimer: TimerHandle | undefined;

  constructor(scheduler: Scheduler, onEvent: (e: PressEvent) => void, opts: Partial<PressClassifierOptions> = {}) {
    this.#s = scheduler;
    this.#o = resolvePressClassifierOptions(opts);
    this.#emit = onEvent;
  }

  /** The options in force. */
  get options(): PressClassifierOptions {
    return this.#o;
  }

  /** Sets the level found at start without treating it as a press. */
  reset(value: 0 | 1, at: number): void {
    this.dispose();
    this.#count = 0;
    this.#pressed = value === 1;
    this.#seenPress = false;
    this.#longFired = false;
    this.#stuck = false;
    if (this.#pressed) {
      this.#pressAt = at;
      this.#stuckTimer = this.#s.setTimeout(() => this.#onStuck(), at + this.#o.stuckMs - this.#s.now());
    }
  }

  /** Feeds one settled level change. */
  input(level: StableLevel): void {
    if (level.value === 1) this.#onPress(level.at);
    else this.#onRelease(level.at);
  }

  /** Cancels all timers. */
  dispose(): void {
    for (const t of [this.#holdTimer, this.#stuckTimer, this.#windowTimer]) this.#s.clearTimeout(t);
    this.#holdTimer = this.#stuckTimer = this.#windowTimer = undefined;
  }

  #onPress(at: number): void {
    if (this.#pressed) return;
    this.#pressed = true;
    this.#seenPress = true;
    this.#pressAt = at;
    this.#longFired = false;
    this.#s.clearTimeout(this.#windowTimer);
    this.#windowTimer = undefined;
    const now = this.#s.now();
    this.#holdTimer = this.#s.setTimeout(() => this.#onHold(), at + this.#o.longPressMs - now);
    this.#stuckTimer = this.#s.setTimeout(() => this.#onStuck(), at + this.#o.stuckMs - now);
  }

  #onRelease(at: number): void {
    if (!this.#pressed) return;
    this.#pressed = false;
    this.#s.clearTimeout(this.#holdTimer);
    this.#s.clearTimeout(this.#stuckTimer);
    this.#holdTimer = this.#stuckTimer = undefined;
    if (this.#stuck) {
      this.#stuck = false;
      this.#count = 0;
      this.#emit({ kind: 'unstuck', at });
      return;
    }
    if (!this.#seenPress || this.#longFired) {
      this.#count = 0;
      return;
    }
    this.#count += 1;
    this.#lastReleaseAt = at;
    if (this.#count >= 3) {
      this.#finishSequence();
      return;
    }
    this.#windowTimer = this.#s.setTimeout(() => this.#finishSequence(), at + this.#o.multiPressWindowMs - this.#s.now());
  }

  #finishSequence(): void {
    this.#s.clearTimeout(this.#windowTimer);
    this.#windowTimer = undefined;
    const kind = this.#count >= 3 ? 'triple' : this.#count === 2 ? 'double' : 'short';
    const at = this.#lastReleaseAt;
    this.#count = 0;
    this.#emit({ kind, at });
    if (kind === this.#o.cancelGesture && this.#lastSosAt !== undefined && at - this.#lastSosAt <= this.#o.cancelWindowMs) {
      this.#lastSosAt = undefined; // one cancel per alarm
      this.#emit({ kind: 'cancel', at });
      return;
    }
    if (kind === 'triple' && this.#o.sosOnTriplePress) this.#raise(at);
  }

  #onHold(): void {
    this.#holdTimer = undefined;
    this.#longFired = true;
    this.#count = 0; // a long press ends any multi-press sequence
    const at = this.#pressAt + this.#o.longPressMs;
    this.#emit({ kind: 'long', at });
    if (this.#o.sosOnLongPress) this.#raise(at);
  }

  #onStuck(): void {
    this.#stuckTimer = undefined;
    this.#stuck = true;
    this.#emit({ kind: 'stuck', at: this.#pressAt + this.#o.stuckMs });
  }

  #raise(at: number): void {
    this.#lastSosAt = at;
    this.#emit({ kind: 'sos', at });
  }
}
