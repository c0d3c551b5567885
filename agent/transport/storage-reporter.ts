import type { EvictedEvent } from './outbox.js';

/**
 * Turns the outbox's eviction events into `storage` reports the platform
 * cannot miss. Counts are cumulative since boot (a lost report is superseded
 * by the next, never needed to reconstruct the total), reports are coalesced
 * (one per `minGapMs`, so a thinning storm does not become a report storm)
 * and they travel on the alarm lane, the one lane the outbox never evicts —
 * on the status lane each thinning pass evicted the report of the pass before.
 */
export class StorageReporter {
  readonly #send: (body: { kind: 'storage'; severity: 'warning'; message: string; data: Record<string, unknown> }) => Promise<unknown>;
  readonly #minGapMs: number;
  readonly #totals = new Map<string, { count: number; bytes: number }>();
  #timer: NodeJS.Timeout | undefined;
  #lastAt = 0;

  constructor(send: (body: { kind: 'storage'; severity: 'warning'; message: string; data: Record<string, unknown> }) => Promise<unknown>, minGapMs = 5000) {
    this.#send = send;
    this.#minGapMs = minGapMs;
  }

  /** Records an eviction and schedules a report. */
  onEvicted(e: EvictedEvent): void {
    const key = `${e.lane}:${e.reason}`;
    const t = this.#totals.get(key) ?? { count: 0, bytes: 0 };
    t.count += e.count;
    t.bytes += e.bytes;
    this.#totals.set(key, t);
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastAt + this.#minGapMs - Date.now());
    this.#timer = setTimeout(() => this.#flush(), wait);
    this.#timer.unref();
  }

  #flush(): void {
    this.#timer = undefined;
    this.#lastAt = Date.now();
    const totals = Object.fromEntries(this.#totals);
    const parts = [...this.#totals].map(([k, v]) => `${v.count} ${k.replace(':', ' ')}`);
    void this.#send({ kind: 'storage', severity: 'warning', message: `outbox full since boot: ${parts.join(', ')}`, data: { cumulative: totals } }).catch(() => undefined);
  }

  /** Totals since boot, by "lane:reason". */
  get totals(): Record<string, { count: number; bytes: number }> {
    return Object.fromEntries(this.#totals);
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}
