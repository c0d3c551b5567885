// When to publish a location. Pure: the caller offers each fix and calls
// tick() from a timer (nextDueInMs() says when); the policy only reads the
// injected clock. A publish happens at whichever comes first of the interval
// and a displacement, with the interval depending on what the nurse is doing:
// 1 Hz for a minute after SOS, faster during a visit, slower when standing
// still. Without a valid fix the last known one goes out at the interval,
// marked stale with its age, so the platform sees "last seen here, N s ago"
// rather than silence.

import type { Fix } from './fix.js';
import { haversineM } from './geodesy.js';

export interface ReportPolicyOptions {
  /** Normal publish interval while moving, ms. */
  intervalMs: number;
  /** Publish early once this far (metres, haversine) from the last published position. */
  displacementM: number;
  /** Displacement-triggered publishes are at least this far apart, ms (a car would otherwise publish every 2 s). */
  minIntervalMs: number;
  /** Below this speed (m/s) the wearer counts as not moving. */
  stationarySpeedMps: number;
  /** Not moving for this long (ms) makes the wearer stationary. */
  stationaryAfterMs: number;
  /** Publish interval while stationary, ms. */
  stationaryIntervalMs: number;
  /** Publish interval during a visit, ms. */
  visitIntervalMs: number;
  /** Publish interval during an SOS burst, ms. */
  burstIntervalMs: number;
  /** Length of an SOS burst, ms. */
  burstDurationMs: number;
  /** A fix older than this (ms since it was offered) is reported as stale. */
  staleAfterMs: number;
}

/** Defaults for a walking nurse (about 1.4 m/s): a report every 30 s or 25 m. */
export const REPORT_POLICY_DEFAULTS: Readonly<ReportPolicyOptions> = Object.freeze({
  intervalMs: 30_000,
  displacementM: 25,
  minIntervalMs: 5_000,
  stationarySpeedMps: 0.5,
  stationaryAfterMs: 60_000,
  stationaryIntervalMs: 120_000,
  visitIntervalMs: 10_000,
  burstIntervalMs: 1_000,
  burstDurationMs: 60_000,
  staleAfterMs: 10_000,
});

export type ReportReason = 'first' | 'interval' | 'displacement' | 'locate' | 'burst';

export interface LocationReport {
  fix: Fix;
  /** True when `fix` is the last known one, not a current one. */
  stale: boolean;
  /** Time since the fix was offered, ms (by the injected clock). */
  ageMs: number;
  reason: ReportReason;
}

export interface Clock {
  now(): number;
}

/** Decides when to publish a location; see the file comment for the rules. */
export class ReportPolicy {
  readonly #clock: Clock;
  #o: ReportPolicyOptions;
  #lastFix: Fix | undefined;
  #lastFixAt = 0;
  #published: { at: number; lat: number; lon: number } | undefined;
  #lastMovingAt: number;
  #visit = false;
  #burstUntil = -Infinity;
  #locatePending = false;

  constructor(clock: Clock, options: Partial<ReportPolicyOptions> = {}) {
    this.#clock = clock;
    this.#o = { ...REPORT_POLICY_DEFAULTS, ...options };
    this.#lastMovingAt = clock.now();
  }

  /** Offers the latest fix (valid or not); returns a report when one is due now. */
  offer(fix: Fix): LocationReport | undefined {
    const now = this.#clock.now();
    if (fix.valid && fix.lat !== undefined && fix.lon !== undefined) {
      const moved = this.#published !== undefined && haversineM(this.#published.lat, this.#published.lon, fix.lat, fix.lon) >= this.#o.displacementM;
      if (fix.speedMps !== undefined ? fix.speedMps >= this.#o.stationarySpeedMps : moved) this.#lastMovingAt = now;
      this.#lastFix = fix;
      this.#lastFixAt = now;
    }
    return this.#decide(now);
  }

  /** Time-driven check (no new fix): returns a report when one is due now. */
  tick(): LocationReport | undefined {
    return this.#decide(this.#clock.now());
  }

  /** Changes options live (config.set), keeping the last fix, a running SOS burst and a pending locate. */
  reconfigure(options: Partial<ReportPolicyOptions>): void {
    this.#o = { ...this.#o, ...options };
  }

  /** Visit mode: publish at visitIntervalMs while active. */
  setVisit(active: boolean): void {
    this.#visit = active;
  }

  /** SOS: publish at burstIntervalMs for burstDurationMs, starting with the next decision. */
  sosBurst(): void {
    this.#burstUntil = this.#clock.now() + this.#o.burstDurationMs;
    this.#locatePending = true;
  }

  /** Forces the next decision (offer or tick) to publish, stale or not. */
  locateNow(): void {
    this.#locatePending = true;
  }

  /** True when the wearer has been below stationarySpeedMps for stationaryAfterMs. */
  get stationary(): boolean {
    return this.#clock.now() - this.#lastMovingAt >= this.#o.stationaryAfterMs;
  }

  /** The interval in force now, ms. */
  currentIntervalMs(): number {
    const now = this.#clock.now();
    if (now < this.#burstUntil) return this.#o.burstIntervalMs;
    if (this.#visit) return this.#o.visitIntervalMs;
    // Without a current fix we cannot tell whether the wearer moves, so the slow rate does not apply.
    if (this.stationary && !this.#isStale(now)) return this.#o.stationaryIntervalMs;
    return this.#o.intervalMs;
  }

  /** Ms until the next time-driven report could be due; for scheduling tick(). */
  nextDueInMs(): number {
    if (this.#lastFix === undefined) return this.currentIntervalMs();
    if (this.#published === undefined || this.#locatePending) return 0;
    return Math.max(0, this.#published.at + this.currentIntervalMs() - this.#clock.now());
  }

  #isStale(now: number): boolean {
    return this.#lastFix === undefined || now - this.#lastFixAt > this.#o.staleAfterMs;
  }

  #decide(now: number): LocationReport | undefined {
    const fix = this.#lastFix;
    if (fix === undefined || fix.lat === undefined || fix.lon === undefined) return undefined;
    const stale = this.#isStale(now);
    const reason = this.#reason(now, fix, stale);
    if (reason === undefined) return undefined;
    this.#published = { at: now, lat: fix.lat, lon: fix.lon };
    this.#locatePending = false;
    return { fix, stale, ageMs: now - this.#lastFixAt, reason };
  }

  #reason(now: number, fix: Fix, stale: boolean): ReportReason | undefined {
    const last = this.#published;
    if (last === undefined) return 'first';
    if (this.#locatePending) return 'locate';
    const elapsed = now - last.at;
    if (now < this.#burstUntil && elapsed >= this.#o.burstIntervalMs) return 'burst';
    if (elapsed >= this.currentIntervalMs()) return 'interval';
    if (stale || elapsed < this.#o.minIntervalMs || fix.lat === undefined || fix.lon === undefined) return undefined;
    // A jump smaller than the fix's own uncertainty is noise, not movement.
    const threshold = Math.max(this.#o.displacementM, fix.accuracyM ?? 0);
    return haversineM(last.lat, last.lon, fix.lat, fix.lon) >= threshold ? 'displacement' : undefined;
  }
}
