import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Scheduler, TimerHandle } from '../../lib/scheduler.js';

export type SosPhase = 'idle' | 'raised' | 'acknowledged' | 'resolved' | 'cancelled';

/** Everything needed to carry an alarm across a restart. Times are epoch ms from `wallClock`. */
export interface SosState {
  phase: SosPhase;
  alarmId?: string;
  raisedAt?: number;
  acknowledgedAt?: number;
  resolvedAt?: number;
  cancelledAt?: number;
  /** How many re-sends have gone out for the current alarm. */
  escalation: number;
}

/** Where the state lives between restarts. `save` must be durable when it returns. */
export interface SosStore {
  load(): SosState | undefined;
  save(state: SosState): void;
}

export type SosResult = { ok: true; state: SosState } | { ok: false; error: string; state: SosState };

/** Emitted on every accepted transition. */
export interface SosTransition {
  from: SosPhase;
  to: SosPhase;
  alarmId: string;
  at: number;
}

/** Emitted while an alarm is raised and unacknowledged, every `resendIntervalMs`. */
export interface SosResend {
  alarmId: string;
  escalation: number;
  at: number;
}

export interface SosMachineOptions {
  /** Re-send interval while raised and unacknowledged (ms). */
  resendIntervalMs: number;
  /** Wall clock for the timestamps that go into messages and the store; the scheduler drives timers. */
  wallClock: () => number;
  /** Alarm id source when `raise()` is not given one. */
  newId: () => string;
}

export const defaultSosMachineOptions: SosMachineOptions = Object.freeze({
  resendIntervalMs: 15_000,
  wallClock: Date.now,
  newId: randomUUID,
});

const allowed: Record<SosPhase, readonly SosPhase[]> = {
  idle: ['raised'],
  raised: ['acknowledged', 'resolved', 'cancelled'],
  acknowledged: ['resolved', 'cancelled'],
  resolved: ['raised'],
  cancelled: ['raised'],
};

/** True if `from → to` is a transition the machine accepts. */
export function canTransition(from: SosPhase, to: SosPhase): boolean {
  return allowed[from].includes(to);
}

/**
 * The alarm's life: idle → raised → acknowledged → resolved, or cancelled from
 * raised/acknowledged. A cancel is itself an event to publish; the alarm record
 * is never erased. Every accepted transition is saved before it is announced, so
 * a restart resumes the same alarm id (and its re-send schedule). Invalid
 * transitions return `{ ok: false }` with the reason; nothing throws.
 *
 * Events: `transition` (SosTransition), `resend` (SosResend).
 */
export class SosMachine extends EventEmitter {
  readonly #s: Scheduler;
  readonly #store: SosStore | undefined;
  readonly #o: SosMachineOptions;
  #state: SosState;
  #resendTimer: TimerHandle | undefined;

  constructor(scheduler: Scheduler, store?: SosStore, opts: Partial<SosMachineOptions> = {}) {
    super();
    this.#s = scheduler;
    this.#store = store;
    this.#o = { ...defaultSosMachineOptions, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    if (!(this.#o.resendIntervalMs > 0)) throw new Error(`sos.resendIntervalMs must be positive, got ${this.#o.resendIntervalMs}`);
    const loaded = store?.load();
    this.#state = loaded !== undefined && isSosState(loaded) ? { ...loaded } : { phase: 'idle', escalation: 0 };
    // A restart while raised resumes re-sending; the first re-send waits a full
    // interval because the raise itself is already in the durable outbox.
    if (this.#state.phase === 'raised') this.#armResend();
  }

  /** A copy of the current state. */
  get state(): SosState {
    return { ...this.#state };
  }

  /** Raises a new alarm (from idle, resolved or cancelled). */
  raise(alarmId: string = this.#o.newId()): SosResult {
    if (!canTransition(this.#state.phase, 'raised')) {
      return this.#reject(`cannot raise: alarm ${this.#state.alarmId ?? '?'} is already ${this.#state.phase}`);
    }
    const at = this.#o.wallClock();
    return this.#commit({ phase: 'raised', alarmId, raisedAt: at, escalation: 0 }, at);
  }

  /** The platform confirmed someone is handling the alarm. */
  acknowledge(alarmId: string): SosResult {
    return this.#move('acknowledged', alarmId, (s, at) => ({ ...s, acknowledgedAt: at }));
  }

  /** The alarm is over. */
  resolve(alarmId: string): SosResult {
    return this.#move('resolved', alarmId, (s, at) => ({ ...s, resolvedAt: at }));
  }

  /** The wearer cancelled the current alarm (a false alarm); with no id, applies to the current one. */
  cancel(alarmId?: string): SosResult {
    return this.#move('cancelled', alarmId ?? this.#state.alarmId ?? '', (s, at) => ({ ...s, cancelledAt: at }));
  }

  /** Stops the re-send timer; the state stays in the store. */
  dispose(): void {
    this.#s.clearTimeout(this.#resendTimer);
    this.#resendTimer = undefined;
  }

  #move(to: SosPhase, alarmId: string, update: (s: SosState, at: number) => SosState): SosResult {
    const from = this.#state.phase;
    if (this.#state.alarmId === undefined || alarmId !== this.#state.alarmId) {
      return this.#reject(`cannot move to ${to}: alarm ${JSON.stringify(alarmId)} is not the current alarm (${this.#state.alarmId ?? 'none'})`);
    }
    if (!canTransition(from, to)) return this.#reject(`cannot move alarm ${alarmId} from ${from} to ${to}`);
    const at = this.#o.wallClock();
    return this.#commit(update({ ...this.#state, phase: to }, at), at);
  }

  #commit(next: SosState, at: number): SosResult {
    const from = this.#state.phase;
    this.#store?.save(next);
    this.#state = next;
    this.dispose();
    if (next.phase === 'raised') this.#armResend();
    this.emit('transition', { from, to: next.phase, alarmId: next.alarmId ?? '', at } satisfies SosTransition);
    return { ok: true, state: this.state };
  }

  #reject(error: string): SosResult {
    return { ok: false, error, state: this.state };
  }

  #armResend(): void {
    this.#resendTimer = this.#s.setTimeout(() => this.#resend(), this.#o.resendIntervalMs);
  }

  #resend(): void {
    this.#resendTimer = undefined;
    if (this.#state.phase !== 'raised' || this.#state.alarmId === undefined) return;
    const next = { ...this.#state, escalation: this.#state.escalation + 1 };
    this.#store?.save(next);
    this.#state = next;
    this.#armResend();
    this.emit('resend', { alarmId: next.alarmId ?? '', escalation: next.escalation, at: this.#o.wallClock() } satisfies SosResend);
  }
}

const phases: readonly string[] = ['idle', 'raised', 'acknowledged', 'resolved', 'cancelled'];

/** Structural check for state read back from disk. */
export function isSosState(v: unknown): v is SosState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.phase !== 'string' || !phases.includes(o.phase)) return false;
  if (typeof o.escalation !== 'number' || !Number.isInteger(o.escalation) || o.escalation < 0) return false;
  if (o.phase !== 'idle' && typeof o.alarmId !== 'string') return false;
  return ['raisedAt', 'acknowledgedAt', 'resolvedAt', 'cancelledAt'].every((k) => o[k] === undefined || typeof o[k] === 'number');
}
