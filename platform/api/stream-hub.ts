import { randomBytes } from 'node:crypto';
import type { StreamEventName } from '../../protocol/api.js';

/*
 * The live stream's fan-out: every event gets an id `<epoch>-<seq>` (epoch:
 * random per process), is kept in a bounded buffer (by count and age) and is
 * handed to every subscriber. A client that reconnects with Last-Event-ID
 * gets what it missed while the buffer still holds it; an id from another
 * epoch (the process restarted) or older than the buffer cannot be resumed,
 * and the client is told to reload.
 */

export interface HubEvent {
  id: string;
  seq: number;
  event: StreamEventName;
  data: unknown;
  at: number;
}

export interface StreamHubOptions {
  /** Events kept for resuming (default 5000). */
  bufferEvents?: number;
  /** …and for at most this long (default 10 min). */
  bufferMs?: number;
  now?: () => number;
  epoch?: string;
}

export class StreamHub {
  readonly epoch: string;
  readonly #max: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  readonly #buffer: HubEvent[] = [];
  readonly #listeners = new Set<(e: HubEvent) => void>();
  #seq = 0;

  constructor(o: StreamHubOptions = {}) {
    this.epoch = o.epoch ?? randomBytes(6).toString('base64url');
    this.#max = o.bufferEvents ?? 5000;
    this.#maxMs = o.bufferMs ?? 600_000;
    this.#now = o.now ?? Date.now;
  }

  publish(event: StreamEventName, data: unknown): HubEvent {
    const seq = ++this.#seq;
    const e: HubEvent = { id: `${this.epoch}-${seq}`, seq, event, data, at: this.#now() };
    this.#buffer.push(e);
    this.#trim();
    for (const l of this.#listeners) l(e);
    return e;
  }

  /** The events after `lastEventId`, or undefined when they cannot all be given (another epoch, or older than the buffer). */
  replay(lastEventId: string): HubEvent[] | undefined {
    const m = /^([A-Za-z0-9_-]+)-(\d+)$/.exec(lastEventId.trim());
    if (m === null || m[1] !== this.epoch) return undefined;
    const seq = Number(m[2]);
    if (seq > this.#seq) return undefined;
    this.#trim();
    const oldest = this.#buffer[0]?.seq ?? this.#seq + 1;
    if (seq < oldest - 1) return undefined;
    return this.#buffer.filter((e) => e.seq > seq);
  }

  subscribe(listener: (e: HubEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  #trim(): void {
    const cutoff = this.#now() - this.#maxMs;
    let drop = Math.max(0, this.#buffer.length - this.#max);
    while (drop < this.#buffer.length && this.#buffer[drop].at < cutoff) drop++;
    if (drop > 0) this.#buffer.splice(0, drop);
  }
}
