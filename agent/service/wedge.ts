/** What the watchdog sees of the transport at one moment. */
export interface TransportSample {
  /** The MQTT session is up. */
  connected: boolean;
  /** Messages waiting in the outbox. */
  queued: number;
  /** A value that changes whenever the outbox makes progress (e.g. the oldest message's time per lane). */
  progress: string;
}

/**
 * Decides whether the transport is wedged: the session claims to be connected
 * and has messages to send, yet nothing has left the outbox for `limitMs`. A
 * link that is down is not wedged (the session reconnects by itself, and a
 * restart would not bring the network back); a half-open TCP connection or a
 * stuck client is, and a restart cures it. Pure: fed samples and a monotonic time.
 */
export class WedgeDetector {
  readonly #limitMs: number;
  #stuckSince: number | undefined;
  #lastProgress: string | undefined;

  constructor(limitMs: number) {
    this.#limitMs = limitMs;
  }

  /** Takes a sample at `now` (monotonic ms); returns how long the transport has been stuck (0 when it is not). */
  update(s: TransportSample, now: number): number {
    if (!s.connected || s.queued === 0 || s.progress !== this.#lastProgress) {
      this.#lastProgress = s.progress;
      this.#stuckSince = s.connected && s.queued > 0 ? now : undefined;
      return 0;
    }
    this.#stuckSince ??= now;
    return now - this.#stuckSince;
  }

  /** True when the last update found the transport stuck for at least the limit. */
  wedged(s: TransportSample, now: number): boolean {
    return this.update(s, now) >= this.#limitMs;
  }
}
