import { Duplex } from 'node:stream';

/**
 * Wraps a socket so that what is written to it leaves at a set rate, in small
 * slices. mqtt.js writes a whole PUBLISH at once; without this, a 32 KiB part
 * would land in the kernel and then in the modem's FIFO in one go. With it,
 * the FIFO receives bulk bytes no faster than the rate controller allows.
 *
 * `onFlushed(offset)` is how the pump learns when the last byte of a part has
 * been handed to the socket (offsets count every byte ever written).
 */
export class PacedStream extends Duplex {
  readonly #socket: Duplex;
  #rate: number;
  readonly #minSlice: number;
  #queue: Buffer[] = [];
  #queued = 0;
  #tokens = 0;
  #lastRefill = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #pendingCallback: (() => void) | undefined;
  #onEmpty: (() => void) | undefined;
  accepted = 0;
  flushed = 0;
  readonly #highWater: number;
  onFlushed: ((offset: number, at: number) => void) | undefined;

  constructor(socket: Duplex, rateBps: number, sliceBytes = 4096, highWater = 64 * 1024) {
    super();
    this.#socket = socket;
    this.#rate = rateBps;
    this.#minSlice = sliceBytes;
    this.#highWater = highWater;
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
    socket.on('connect', () => this.emit('connect'));
    socket.on('secureConnect', () => this.emit('secureConnect'));
  }

  /**
   * Slice size: what may enter the link's FIFO at once. A slice is at most ~5 ms of
   * link time at the current rate (never below the minimum, 4 KiB = 16 ms at 2 Mbit/s),
   * so a fast link gets fewer, larger writes: one 4 KiB write per slice cost the agent
   * most of its CPU in media-overhead when the rate was high.
   */
  #slice(): number {
    return Math.min(65_536, Math.max(this.#minSlice, Math.floor(this.#rate * 0.005)));
  }

  setRate(bps: number): void {
    this.#rate = bps;
  }

  /** Bytes accepted from the writer but not yet passed to the socket. */
  get backlog(): number {
    return this.#queued;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    this.accepted += chunk.length;
    this.#drain();
    // Backpressure on the writer once a few slices are waiting, so memory stays bounded.
    if (this.#queued > this.#highWater) this.#pendingCallback = () => callback();
    else callback();
  }

  #drain(): void {
    if (this.#timer !== undefined) return;
    const now = performance.now();
    const slice = this.#slice();
    this.#tokens = Math.min(slice, this.#tokens + ((now - this.#lastRefill) / 1000) * this.#rate);
    this.#lastRefill = now;
    while (this.#queued > 0 && this.#tokens >= Math.min(slice, this.#queued)) {
      const want = Math.min(slice, this.#queued);
      const bufs = this.#take(want);
      this.#tokens -= want;
      // A slice spanning several writes (a PUBLISH header and its payload) goes out as one
      // writev instead of being copied together first.
      if (bufs.length === 1) this.#socket.write(bufs[0]);
      else {
        this.#socket.cork();
        for (const b of bufs) this.#socket.write(b);
        this.#socket.uncork();
      }
      this.flushed += want;
      this.onFlushed?.(this.flushed, Date.now());
    }
    if (this.#queued <= this.#highWater && this.#pendingCallback) {
      const cb = this.#pendingCallback;
      this.#pendingCallback = undefined;
      cb();
    }
    if (this.#queued === 0 && this.#onEmpty) {
      const done = this.#onEmpty;
      this.#onEmpty = undefined;
      done();
    }
    if (this.#queued > 0) {
      const need = Math.min(slice, this.#queued) - this.#tokens;
      const waitMs = Math.max(1, (need / this.#rate) * 1000);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#drain();
      }, waitMs);
    }
  }

  #take(n: number): Buffer[] {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const head = this.#queue[0];
      if (head.length <= left) {
        parts.push(head);
        this.#queue.shift();
        left -= head.length;
      } else {
        parts.push(head.subarray(0, left));
        this.#queue[0] = head.subarray(left);
        left = 0;
      }
    }
    this.#queued -= n;
    return parts;
  }

  override _final(callback: (err?: Error | null) => void): void {
    // End the socket only after the paced queue has gone out (a graceful DISCONNECT is queued last).
    if (this.#queued > 0) {
      this.#onEmpty = () => this._final(callback);
      return;
    }
    this.#socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#queued = 0;
    this.#socket.destroy();
    callback(err);
  }
}
