/**
 * Rate control for bulk uploads: delay-based like LEDBAT (RFC 6817), paced
 * like BBR.
 *
 * Why: every connection of a cellular modem shares one FIFO. Bulk bytes that
 * pile up there delay the alarm behind them, whatever connection it uses. A
 * fixed budget is either too slow (wastes a good link) or too fast (fills the
 * FIFO on a bad one), and a cellular link changes capacity all the time. So we
 * watch the one signal that measures the FIFO: how long a part's
 * acknowledgement takes after its last byte left us. The smallest such delay
 * seen recently is the base (propagation + broker); anything above it is
 * queueing.
 *
 * The pacing rate is the measured delivery rate (bytes acknowledged per
 * second, max over the last second: what the link demonstrably carries)
 * times a gain set by the queueing delay: 1.25 while the queue is empty (probe
 * for more), 1 at the target, down to 0.5 when it is well above (drain). A
 * first version scaled the rate up and down by the delay alone; with the
 * feedback arriving a round trip late it oscillated between 0.45× and 1.4×
 * of a 4 Mbit/s link and reached 0.73 of its capacity. Anchoring on the
 * delivery rate keeps the FIFO near `targetMs`: enough to keep the link busy,
 * little enough that an alarm waits at most about that long.
 */
export interface RateOptions {
  minBps: number;
  maxBps: number;
  targetMs: number;
  initialBps?: number;
  /** How long a base-delay sample stays valid (LEDBAT keeps ~10 minutes; a moving device needs less). */
  baseHistoryMs?: number;
}

const BW_FILTER_MS = 1000;

export class DelayRateController {
  readonly #o: Required<RateOptions>;
  #rate: number;
  #slowStart = true;
  /** Minimum delay per 10-second bucket, newest last. */
  #baseBuckets: Array<{ at: number; min: number }> = [];
  #lastQueueMs = 0;
  #lastAckAt: number | undefined;
  /** Recent acknowledgements for the delivery-rate sample. */
  #acks: Array<{ at: number; bytes: number }> = [];
  #ackedInWindow = 0;
  /** Delivery-rate samples for the max filter. */
  #bw: Array<{ at: number; bps: number }> = [];

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

  /** Estimated bottleneck rate (bytes/s), or 0 before there is a sample. */
  get deliveryRate(): number {
    let m = 0;
    for (const s of this.#bw) m = Math.max(m, s.bps);
    return m;
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

  #noteDelivery(now: number, bytes: number): void {
    // Long enough for several acknowledgements even when one part takes a while at this rate.
    const window = Math.max(100, 2 * this.#base(), (4 * bytes * 1000) / Math.max(1, this.#rate));
    this.#acks.push({ at: now, bytes });
    this.#ackedInWindow += bytes;
    while (this.#acks.length > 2 && now - this.#acks[0].at > window) this.#ackedInWindow -= this.#acks.shift()!.bytes;
    const span = now - this.#acks[0].at;
    // Bytes acknowledged after the first in the window, over the time they took.
    if (this.#acks.length >= 3 && span >= window / 2) this.#bw.push({ at: now, bps: ((this.#ackedInWindow - this.#acks[0].bytes) * 1000) / span });
    while (this.#bw.length > 1 && now - this.#bw[0].at > BW_FILTER_MS) this.#bw.shift();
  }

  /** One acknowledged part: `delayMs` from its last byte leaving us to its acknowledgement. */
  onAck(now: number, delayMs: number, bytes: number): void {
    this.#noteBase(now, delayMs);
    this.#noteDelivery(now, bytes);
    const queue = Math.max(0, delayMs - this.#base());
    this.#lastQueueMs = queue;
    const target = this.#o.targetMs;
    if (this.#slowStart && queue >= target / 4) this.#slowStart = false;
    const bw = this.deliveryRate;
    const sinceLast = this.#lastAckAt === undefined ? 0 : now - this.#lastAckAt;
    this.#lastAckAt = now;
    if (this.#slowStart || bw === 0) {
      // Until the queue starts to grow, double per round trip of wall time (at a low rate one
      // part spans several round trips, so growing per acknowledgement would crawl).
      const rtt = Math.max(20, this.#base() + target);
      this.#rate *= Math.min(2, 2 ** (sinceLast / rtt));
    } else {
      const off = Math.max(-2, Math.min(1, (target - queue) / target));
      this.#rate = bw * Math.max(0.5, Math.min(1.25, 1 + 0.25 * off));
    }
    this.#rate = Math.min(this.#o.maxBps, Math.max(this.#o.minBps, this.#rate));
  }

  /** A part was lost (connection dropped): halve, like any congestion controller. */
  onLoss(): void {
    this.#rate = Math.max(this.#o.minBps, this.#rate / 2);
    this.#slowStart = false;
  }
}
