/*
 * Token buckets per key (a client address, a token id): `burst` requests at
 * once, refilled at `perMinute`. Pure apart from the injected clock. The
 * table is bounded: past `maxKeys` the least recently used keys are dropped
 * (a dropped key starts again with a full bucket), so a flood of distinct
 * keys cannot grow memory without limit.
 */

export interface RateLimitOptions {
  perMinute: number;
  burst: number;
  maxKeys?: number;
  now?: () => number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

export class RateLimiter {
  readonly #o: Required<RateLimitOptions>;
  /** Insertion order = least recently used first (a hit re-inserts). */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(o: RateLimitOptions) {
    if (!(o.perMinute > 0) || !(o.burst >= 1)) throw new Error(`rate limit needs perMinute > 0 and burst >= 1 (got ${o.perMinute}, ${o.burst})`);
    this.#o = { maxKeys: 10_000, now: Date.now, ...o };
  }

  /** Takes one request's worth for `key`, or says how long until one is available. */
  take(key: string, cost = 1): RateDecision {
    const now = this.#o.now();
    const b = this.#refill(key, now);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return { ok: true };
    }
    const perMs = this.#o.perMinute / 60_000;
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((cost - b.tokens) / perMs / 1000)) };
  }

  /** Whether a request for `key` would be allowed now, without taking anything. */
  allows(key: string, cost = 1): boolean {
    // An unknown key has a full bucket; looking must not make room for it (that would evict another).
    if (!this.#buckets.has(key)) return this.#o.burst >= cost;
    return this.#refill(key, this.#o.now()).tokens >= cost;
  }

  #refill(key: string, now: number): { tokens: number; at: number } {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.#o.burst, at: now };
      if (this.#buckets.size >= this.#o.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    } else {
      this.#buckets.delete(key);
      b.tokens = Math.min(this.#o.burst, b.tokens + (Math.max(0, now - b.at) * this.#o.perMinute) / 60_000);
      b.at = now;
    }
    this.#buckets.set(key, b);
    return b;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
