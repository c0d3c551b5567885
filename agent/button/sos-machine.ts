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

/** Where the state lives between restarts. `save` must be durable when it returns; it may throw (a full or failing disk). */
export interface SosStore {
  load(): SosState | undefined;
  save(state: SosState): void;
}

/** Something on the alarm path failed and was contained: the alarm itself carries on. */
export interface SosFault {
  /** store-load: the saved state could not be read (the machine started idle); store-save: a state is in memory only; listener: a transition or re-send listener threw. */
  kind: 'store-load' | 'store-save' | 'listener';
  error: Error;
}

export interface SosMachineEvents {
  transition: [SosTransition];
  resend: [SosResend];
  fault: [SosFault];
  /** A save succeeded after failing: the state on disk is current again. */
  'store-recovered': [];
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
 * Raising and re-sending never depend on a write: a save that fails (a full
 * disk) is reported as a `fault` and the alarm goes on from memory, saved again
 * at its next step; a state that cannot be loaded starts the machine idle (the
 * button must work) and is reported as a fault too (see `loadFault`). A
 * listener that throws cannot stop the re-send loop or reach the top of the
 * process from its timer.
 */
export class SosMachine extends EventEmitter<SosMachineEvents> {
  readonly #s: Scheduler;
  readonly #store: SosStore | undefined;
  readonly #o: SosMachineOptions;
  #state: SosState;
  #resendTimer: TimerHandle | undefined;
  #saveFailing = false;
  /** Why the stored state could not be loaded (the machine started idle); undefined when it loaded. */
  readonly loadFault: Error | undefined;

  constructor(scheduler: Scheduler, store?: SosStore, opts: Partial<SosMachineOptions> = {}) {
    super();
    this.#s = scheduler;
    this.#store = store;
    this.#o = { ...defaultSosMachineOptions, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    if (!(this.#o.resendIntervalMs > 0)) throw new Error(`sos.resendIntervalMs must be positive, got ${this.#o.resendIntervalMs}`);
    let loaded: SosState | undefined;
    try {
      loaded = store?.load();
    } catch (err) {
      this.loadFault = err as Error;
    }
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
    this.#save(next);
    this.#state = next;
    this.dispose();
    if (next.phase === 'raised') this.#armResend();
    this.#announce('transition', { from, to: next.phase, alarmId: next.alarmId ?? '', at });
    return { ok: true, state: this.state };
  }

  /** Saves, or reports why not: the alarm must go out whether or not the disk takes its state. */
  #save(next: SosState): void {
    if (this.#store === undefined) return;
    try {
      this.#store.save(next);
    } catch (err) {
      this.#saveFailing = true;
      this.#fault({ kind: 'store-save', error: err as Error });
      return;
    }
    if (this.#saveFailing) {
      this.#saveFailing = false;
      this.#announce('store-recovered');
    }
  }

  #announce<K extends 'transition' | 'resend' | 'store-recovered'>(event: K, ...args: SosMachineEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: SosMachineEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.#fault({ kind: 'listener', error: err as Error });
    }
  }

  #fault(f: SosFault): void {
    try {
      this.emit('fault', f);
    } catch {
      // A fault listener that throws has nowhere left to report to; the alarm goes on.
    }
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
    // Re-armed first: nothing below can stop the loop.
    this.#armResend();
    this.#save(next);
    this.#state = next;
    this.#announce('resend', { alarmId: next.alarmId ?? '', escalation: next.escalation, at: this.#o.wallClock() });
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
