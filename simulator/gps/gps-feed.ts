import type { Writable } from 'node:stream';
import { epochSentences } from './nmea-writer.js';
import { RouteWalker } from './route.js';

export interface SentPoint {
  time: number;
  lat: number;
  lon: number;
}

/**
 * Writes one NMEA epoch per interval into the agent's tty, walking a route.
 * Remembers every point it sent (as encoded), so tests can compare what
 * arrived at the ingest with what the receiver said.
 */
export class GpsFeed {
  readonly sent: SentPoint[] = [];
  readonly #writer: Writable;
  readonly #walker: RouteWalker;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #fix = true;

  constructor(writer: Writable, opts: { intervalMs?: number; speedMps?: number; walker?: RouteWalker } = {}) {
    this.#writer = writer;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#walker = opts.walker ?? new RouteWalker(undefined, opts.speedMps ?? 1.4);
  }

  /** Writes one epoch now and returns the point (undefined while the fix is lost). */
  tick(now = Date.now()): SentPoint | undefined {
    const p = this.#walker.step(this.#intervalMs / 1000);
    const out = epochSentences({ time: new Date(now), lat: p.lat, lon: p.lon, altM: 38.5, speedMps: p.speedMps, courseDeg: p.courseDeg, fix: this.#fix });
    this.#writer.write(out.text);
    if (!this.#fix) return undefined;
    const point = { time: Math.floor(now / 10) * 10, lat: out.lat, lon: out.lon };
    this.sent.push(point);
    return point;
  }

  /** Simulates losing (false) and regaining (true) the satellite fix. */
  setFix(fix: boolean): void {
    this.#fix = fix;
  }

  start(): void {
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
