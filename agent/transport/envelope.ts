import { randomBytes } from 'node:crypto';
import type { DeviceStream } from '../../protocol/index.js';

/** Where `ts` comes from; the GPS module swaps in GPS time until the system clock is synchronized. */
export interface MessageClock {
  now(): { ts: number; clock: 'system' | 'gps' | 'unsynced' };
}

export const systemClock: MessageClock = { now: () => ({ ts: Date.now(), clock: 'system' }) };

/** A fresh boot id: 12 url-safe random characters. */
export function newBootId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * Stamps messages with the envelope every message carries. `seq` is monotonic
 * per stream per boot; `id` = bootId-stream-seq is unique per device for ever
 * (bootIds are random), which makes ingest deduplication exact.
 */
export class Envelope {
  readonly deviceId: string;
  readonly bootId: string;
  #clock: MessageClock;
  readonly #seq = new Map<DeviceStream, number>();

  constructor(deviceId: string, bootId: string = newBootId(), clock: MessageClock = systemClock) {
    this.deviceId = deviceId;
    this.bootId = bootId;
    this.#clock = clock;
  }

  /** Replaces the clock (GPS time until NTP sync). */
  setClock(clock: MessageClock): void {
    this.#clock = clock;
  }

  /** Builds a message for `stream` with the body's fields after the envelope's. */
  make<B extends object>(stream: DeviceStream, body: B): { v: 1; id: string; deviceId: string; bootId: string; seq: number; ts: number; clock?: 'system' | 'gps' | 'unsynced' } & B {
    const seq = this.#seq.get(stream) ?? 0;
    this.#seq.set(stream, seq + 1);
    const { ts, clock } = this.#clock.now();
    const head = { v: 1 as const, id: `${this.bootId}-${stream.slice(0, 3)}-${seq}`, deviceId: this.deviceId, bootId: this.bootId, seq, ts };
    return clock === 'system' ? { ...head, ...body } : { ...head, clock, ...body };
  }
}
