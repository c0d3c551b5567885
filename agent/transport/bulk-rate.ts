/**
 * Delay-based rate control for bulk uploads, after LEDBAT (RFC 6817), rate-
 * rather than window-based because bytes are paced onto the socket.
 *
 * Why: every connection of a cellular modem shares one FIFO. Bulk bytes that
 * pile up there delay the alarm behind them, whatever connection it uses. A
 * fixed budget is either too slow (wastes a good link) or too fast (fills the
 * FIFO on a bad one), and a cellular link changes capacity all the time. So
 * we watch the one signal that measures the FIFO: how long a part's
 * acknowledgement takes after its last byte left us. The smallest such delay
 * seen recently is the base (propagation + broker); anything above it is
 * queueing. We push the rate up while queueing is below `targetMs` and pull
 * it down when above, so the FIFO holds about `targetMs` of bulk bytes: enough
 * to keep the link busy, little enough that an alarm waits at most that long.
 */
export interface RateOptions {
  minBps: number;
  maxBps: number;
  targetMs: number;
  initialBps?: number;
  /** How long a base-delay sample stays valid (LEDBAT keeps ~10 minutes; a moving device needs less). */
  baseHistoryMs?: number;
}

export class DelayRateController {
  readonly #o: Required<RateOptions>;
  #rate: number;
  #slowStart = true;
  /** Minimum delay per one-minute bucket, newest last. */
  #baseBuckets: Array<{ at: number; min: number }> = [];
  #lastQueueMs = 0;
  #lastAckAt: number | undefined;

  constructor(o: RateOptions) {
    this.#o = { initialBps: o.minBps, baseHistoryMs: 120_000, ...o };
    this.#rate = Math.min(this.#o.maxBps, Math.max(this.#o.minBps, this.#o.initialBps));
  }

  /** Current pacing rate, bytes per second. */
  get rate(): number {
    return this.#rate;
  }

  get queueDelayMs(): number {
    return this.#lastQueueMs;
  }

  get baseDelayMs(): number {
    return this.#base();
  }

  #base(): number {
    let m = Number.POSITIVE_INFINITY;
    for (const b of this.#baseBuckets) m = Math.min(m, b.min);
    return m;
  }

  #noteBase(now: number, delay: number): void {
    const last = this.#baseBuckets.at(-1);
    if (last === undefined || now - last.at > 10_000) this.#baseBuckets.push({ at: now, min: delay });
    else last.min = Math.min(last.min, delay);
    while (this.#baseBuckets.length > 1 && now - this.#baseBuckets[0].at > this.#o.baseHistoryMs) this.#baseBuckets.shift();
  }

  /**
   * One acknowledged part: `delayMs` from its last byte leaving us to its
   * acknowledgement, `bytes` its size, `rttMs` the base round trip for scaling.
   */
  onAck(now: number, delayMs: number): void {
    this.#noteBase(now, delayMs);
    const queue = Math.max(0, delayMs - this.#base());
    this.#lastQueueMs = queue;
    const target = this.#o.targetMs;
    // Changes are scaled by elapsed time in round trips, not per acknowledgement:
    // at a low rate one part spans several round trips, and probing per ack
    // would make the climb from the floor take minutes.
    const rttMs = Math.max(20, this.#base() + target);
    const rtts = this.#lastAckAt === undefined ? 1 : Math.min(4, Math.max(0, now - this.#lastAckAt) / rttMs);
    this.#lastAckAt = now;
    if (this.#slowStart && queue >= target / 4) this.#slowStart = false;
    if (this.#slowStart) {
      this.#rate *= Math.min(2, 1.5 ** rtts); // ×1.5 per round trip until the queue starts to grow
    } else {
      const off = Math.max(-1, Math.min(1, (target - queue) / target));
      // Back off faster than we probe: an alarm waits for whatever we over-send.
      // A part's delay reports on bytes sent up to a part-time plus a round trip ago,
      // so one step never exceeds one round trip's worth (damps the oscillation).
      const gain = off > 0 ? 0.15 : 0.3;
      this.#rate *= 1 + gain * off * Math.min(off > 0 ? 2 : 1, rtts);
    }
    this.#rate = Math.min(this.#o.maxBps, Math.max(this.#o.minBps, this.#rate));
  }

  /** A part was lost (connection dropped): halve, like any congestion controller. */
  onLoss(): void {
    this.#rate = Math.max(this.#o.minBps, this.#rate / 2);
    this.#slowStart = false;
  }
}
