/** What to tell the platform about a fault: a new one, a reminder that it persists, or that it cleared. */
export interface FaultReport {
  kind: 'fault' | 'reminder' | 'recovered';
  reason: string;
  /** When this fault (this reason) began, epoch ms. */
  since: number;
  /** How often it was seen since it began (retries that failed the same way). */
  occurrences: number;
}

/** Reminders for a fault that persists come at most this often. */
export const FAULT_REMINDER_MS = 10 * 60_000;

/**
 * Reports a fault on change, not on every retry: a camera that is not there
 * fails every backoff period (30 s at most), and each failure used to become
 * a platform event. A new or different reason is reported at once; the same
 * one again only as a reminder, at most every `reminderMs`; the first sign of
 * health after a fault reports the recovery. Pure: the clock is injected.
 */
export class FaultReporter {
  readonly #now: () => number;
  readonly #reminderMs: number;
  #active: { key: string; reason: string; since: number; lastReport: number; occurrences: number } | undefined;

  constructor(now: () => number = Date.now, reminderMs = FAULT_REMINDER_MS) {
    this.#now = now;
    this.#reminderMs = reminderMs;
  }

  /** The fault in progress, if any. */
  get active(): { reason: string; since: number; occurrences: number } | undefined {
    const a = this.#active;
    return a === undefined ? undefined : { reason: a.reason, since: a.since, occurrences: a.occurrences };
  }

  /** A failure was seen; returns what to report now, or undefined to stay quiet. */
  fault(reason: string): FaultReport | undefined {
    const now = this.#now();
    const key = sameFaultKey(reason);
    const a = this.#active;
    if (a === undefined || a.key !== key) {
      this.#active = { key, reason, since: now, lastReport: now, occurrences: 1 };
      return { kind: 'fault', reason, since: now, occurrences: 1 };
    }
    a.occurrences++;
    a.reason = reason;
    if (now - a.lastReport < this.#reminderMs) return undefined;
    a.lastReport = now;
    return { kind: 'reminder', reason, since: a.since, occurrences: a.occurrences };
  }

  /** The thing works again; returns the recovery to report, or undefined when there was no fault. */
  clear(): FaultReport | undefined {
    const a = this.#active;
    if (a === undefined) return undefined;
    this.#active = undefined;
    return { kind: 'recovered', reason: a.reason, since: a.since, occurrences: a.occurrences };
  }
}

/**
 * Two failures are the same fault when their reasons differ only in what
 * changes from run to run: addresses ffmpeg prints (`[v4l2 @ 0x55d0c8]`), pids
 * and timings.
 */
export function sameFaultKey(reason: string): string {
  return reason.replace(/0x[0-9a-f]+/gi, '0x?').replace(/\d+(\.\d+)?/g, '#');
}
