/**
 * The timing model of one direction of a cellular link, without sockets or
 * timers: one FIFO shared by every connection (the modem's buffer), a
 * serializer that lets bytes leave at the capped rate, then a fixed one-way
 * latency. Time is passed in, so the model is exact and testable with a fake
 * clock; the proxy calls poll() on data arrival and when nextAt is reached.
 *
 * Departure times are computed from timestamps, not from how often poll() runs:
 * a late timer delivers late but never lowers the rate, and an idle link
 * accumulates no credit (no burst after a pause).
 */

interface Queued<T> {
  tag: T;
  /** null marks end of stream for `tag` (FIN travels in order behind the data). */
  data: Buffer | null;
  offset: number;
  at: number;
}
interface InTransit<T> {
  tag: T;
  data: Buffer | null;
  deliverAt: number;
}

export interface ShaperOptions {
  /** Cap in kbit/s (1 kbit = 1000 bit); undefined = unlimited. */
  kbps?: number;
  latencyMs?: number;
  /** Largest piece serialized at once, like a packet; keeps a big write from arriving as one lump. */
  sliceBytes?: number;
}

export interface Delivery<T> {
  tag: T;
  data: Buffer | null;
}

/** A FIFO with O(1) shift that compacts occasionally. */
class Fifo<E> {
  #items: E[] = [];
  #head = 0;
  get length(): number { return this.#items.length - this.#head; }
  peek(): E | undefined { return this.#items[this.#head]; }
  push(e: E): void { this.#items.push(e); }
  shift(): E | undefined {
    const e = this.#items[this.#head];
    if (e === undefined) return undefined;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return e;
  }
  /** Keeps only items passing `keep`; returns the removed ones. */
  filter(keep: (e: E) => boolean): E[] {
    const live = this.#items.slice(this.#head);
    this.#items = live.filter(keep);
    this.#head = 0;
    return live.filter((e) => !keep(e));
  }
}

/** One direction of the link: shared FIFO → rate-capped serializer → latency → delivery. */
export class LinkShaper<T> {
  #bytesPerMs: number | undefined;
  #latency: number;
  readonly #slice: number;
  readonly #fifo = new Fifo<Queued<T>>();
  readonly #wire = new Fifo<InTransit<T>>();
  #queued = 0;
  #inTransit = 0;
  /** When the serializer finishes the last byte it has sent. */
  #busyUntil = Number.NEGATIVE_INFINITY;
  #lastDeliverAt = Number.NEGATIVE_INFINITY;
  #held = false;

  constructor(opts: ShaperOptions = {}) {
    this.#slice = opts.sliceBytes ?? 1460;
    if (!(this.#slice > 0)) throw new Error(`sliceBytes must be > 0, got ${opts.sliceBytes}`);
    this.#bytesPerMs = LinkShaper.#rate(opts.kbps);
    this.#latency = LinkShaper.#latencyOf(opts.latencyMs);
  }

  static #rate(kbps: number | undefined): number | undefined {
    if (kbps === undefined) return undefined;
    if (!(kbps > 0) || !Number.isFinite(kbps)) throw new Error(`link rate must be a positive number of kbit/s, got ${kbps}`);
    return (kbps * 1000) / 8 / 1000;
  }

  static #latencyOf(ms: number | undefined): number {
    const v = ms ?? 0;
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`link latency must be >= 0 ms, got ${ms}`);
    return v;
  }

  /** Changes the cap for bytes not yet serialized. */
  setRate(kbps: number | undefined): void {
    this.#bytesPerMs = LinkShaper.#rate(kbps);
  }

  /** Changes the latency for bytes not yet serialized (delivery order is kept). */
  setLatency(ms: number | undefined): void {
    this.#latency = LinkShaper.#latencyOf(ms);
  }

  /** Bytes waiting in the FIFO (the modem buffer). */
  get queuedBytes(): number { return this.#queued; }
  /** Bytes serialized but not yet delivered (on the wire, inside the latency). */
  get inTransitBytes(): number { return this.#inTransit; }
  get held(): boolean { return this.#held; }

  /** Appends bytes (or an end-of-stream marker, `null`) from `tag` at time `now`. */
  push(tag: T, data: Buffer | null, now: number): void {
    if (data !== null && data.length === 0) return;
    this.#fifo.push({ tag, data, offset: 0, at: now });
    if (data !== null) this.#queued += data.length;
  }

  /** Stops everything (nothing serialized, nothing delivered) or resumes at `now`. */
  hold(held: boolean, now: number): void {
    if (this.#held && !held) this.#busyUntil = Math.max(this.#busyUntil, now);
    this.#held = held;
  }

  /** Forgets everything queued or in transit for `tag` (its connection is gone); returns the bytes dropped. */
  drop(tag: T): number {
    let bytes = 0;
    for (const q of this.#fifo.filter((e) => e.tag !== tag)) {
      if (q.data !== null) bytes += q.data.length - q.offset;
    }
    this.#queued -= bytes;
    let transit = 0;
    for (const w of this.#wire.filter((e) => e.tag !== tag)) transit += w.data?.length ?? 0;
    this.#inTransit -= transit;
    return bytes + transit;
  }

  /** Serializes what may leave by `now`, returns what has arrived by `now` (in order) and when to poll next. */
  poll(now: number): { deliver: Delivery<T>[]; nextAt: number | undefined } {
    if (this.#held) return { deliver: [], nextAt: undefined };
    let nextDeparture: number | undefined;
    for (let head = this.#fifo.peek(); head !== undefined; head = this.#fifo.peek()) {
      const start = Math.max(this.#busyUntil, head.at);
      const size = head.data === null ? 0 : this.#bytesPerMs === undefined ? head.data.length - head.offset : Math.min(this.#slice, head.data.length - head.offset);
      const departAt = this.#bytesPerMs === undefined ? start : start + size / this.#bytesPerMs;
      if (departAt > now) {
        nextDeparture = departAt;
        break;
      }
      this.#busyUntil = departAt;
      let piece: Buffer | null = null;
      if (head.data !== null) {
        piece = head.data.subarray(head.offset, head.offset + size);
        head.offset += size;
        this.#queued -= size;
        this.#inTransit += size;
        if (head.offset >= head.data.length) this.#fifo.shift();
      } else {
        this.#fifo.shift();
      }
      const deliverAt = Math.max(departAt + this.#latency, this.#lastDeliverAt);
      this.#lastDeliverAt = deliverAt;
      this.#wire.push({ tag: head.tag, data: piece, deliverAt });
    }
    const deliver: Delivery<T>[] = [];
    for (let w = this.#wire.peek(); w !== undefined && w.deliverAt <= now; w = this.#wire.peek()) {
      this.#wire.shift();
      this.#inTransit -= w.data?.length ?? 0;
      deliver.push({ tag: w.tag, data: w.data });
    }
    const wireNext = this.#wire.peek()?.deliverAt;
    const nextAt = nextDeparture === undefined ? wireNext : wireNext === undefined ? nextDeparture : Math.min(nextDeparture, wireNext);
    return { deliver, nextAt };
  }
}
