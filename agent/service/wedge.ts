/** What the watchdog sees of the transport at one moment. */
export interface TransportSample {
  /** The MQTT session is up. */
  connected: boolean;
  /** Messages stored and not yet handed to the session. */
  waiting: number;
  /** Messages published and awaiting the platform's acknowledgement. */
  inFlight: number;
  /** A value that changes whenever the outbox makes progress (counts and oldest times per lane). */
  progress: string;
}

/**
 * Decides whether the transport is wedged: the session says it is connected,
 * messages wait to be sent, nothing is out awaiting an acknowledgement (so
 * there is nothing to wait for), and yet nothing has moved for `limitMs`: the
 * sending side is stuck, and a restart cures that. Not wedged: a link that is
 * down (the session reconnects by itself; a restart would not bring the
 * network back), or messages in flight while the platform is slow or its
 * ingest is down (restarting every recorder would not help it, and would cut
 * their evidence recordings). Pure: fed samples and a monotonic time.
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
    const stuckShape = s.connected && s.waiting > 0 && s.inFlight === 0;
    if (!stuckShape || s.progress !== this.#lastProgress) {
      this.#lastProgress = s.progress;
      this.#stuckSince = stuckShape ? now : undefined;
      return 0;
    }
    this.#stuckSince ??= now;
    return now - this.#stuckSince;
  }

  /** True when the transport has been stuck for at least the limit. */
  wedged(s: TransportSample, now: number): boolean {
    return this.update(s, now) >= this.#limitMs;
  }
}
