// Which clock stamps a message. A synchronized system clock (NTP) wins: it is
// what the platform compares everything against. Before synchronization — a
// recorder that booted without network has a clock from the last shutdown or
// 1970 — a valid GPS fix carries true UTC, so its time is used instead.

export type TimeSource = 'system' | 'gps';

export interface TimeInput {
  /** The fix's UTC time, epoch ms (Fix.time), if any. */
  fixTimeMs: number | undefined;
  /** Whether the fix is valid; a receiver without a fix may report a stale or default date. */
  fixValid: boolean;
  /** System clock reading taken when the fix arrived, epoch ms. */
  systemMs: number;
  /** Whether the system clock is synchronized (see clock-sync.ts). */
  systemSynchronized: boolean;
}

export interface TimeDecision {
  /** Timestamp to use, epoch ms. */
  ts: number;
  source: TimeSource;
  /** systemMs − fix time (positive: the system clock is ahead); undefined without a usable fix time. */
  skewMs: number | undefined;
}

/**
 * Earliest fix time believed: receivers power up with defaults such as
 * 1980-01-06 or their firmware's build date, and GPS week rollover bugs push
 * dates back by 19.6 years; nothing before 2020 is a real fix time for us.
 */
export const MIN_PLAUSIBLE_GPS_MS = Date.UTC(2020, 0, 1);

/** Decides the timestamp and its source for a message made when a fix arrived. */
export function decideTimestamp(input: TimeInput, minPlausibleMs = MIN_PLAUSIBLE_GPS_MS): TimeDecision {
  const usable = input.fixValid && input.fixTimeMs !== undefined && Number.isFinite(input.fixTimeMs) && input.fixTimeMs >= minPlausibleMs;
  const skewMs = usable && input.fixTimeMs !== undefined ? input.systemMs - input.fixTimeMs : undefined;
  if (input.systemSynchronized || !usable || input.fixTimeMs === undefined) return { ts: input.systemMs, source: 'system', skewMs };
  return { ts: input.fixTimeMs, source: 'gps', skewMs };
}
