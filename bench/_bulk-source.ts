import { EventEmitter } from 'node:events';
import type { BulkPart, BulkSource } from '../agent/transport/bulk-pump.js';
import { MAX_AUTO_PART_BYTES, resolvePartBytes, type PartBytesSetting } from '../agent/transport/part-size.js';

/**
 * A queue of synthetic media parts (patterned bytes), as the uploader would offer them.
 * Parts are cut when first asked for, at the size the setting gives for the pump's
 * current rate (the uploader does the same per chunk; here each part is its own chunk).
 */
export class SyntheticBulkSource extends EventEmitter implements BulkSource {
  readonly #topic: string;
  readonly #setting: PartBytesSetting;
  readonly #body: Buffer;
  readonly #requeued: BulkPart[] = [];
  readonly #done = new Set<string>();
  #left: number;
  #cut = 0;
  acked_ = 0;

  constructor(topic: string, totalBytes: number, partBytes: PartBytesSetting) {
    super();
    this.#topic = topic;
    this.#setting = partBytes;
    this.#left = totalBytes;
    this.#body = Buffer.alloc(partBytes === 'auto' ? MAX_AUTO_PART_BYTES : partBytes);
    for (let i = 0; i < this.#body.length; i++) this.#body[i] = (i * 2654435761) >>> 24;
  }

  next(rateBps = 0): BulkPart | undefined {
    for (let again = this.#requeued.shift(); again !== undefined; again = this.#requeued.shift()) {
      if (!this.#done.has(again.key)) return again; // else acknowledged late, after a reconnect
    }
    if (this.#left <= 0) return undefined;
    const size = Math.min(this.#left, resolvePartBytes(this.#setting, rateBps));
    this.#left -= size;
    return { key: `p${this.#cut++}`, topic: this.#topic, payload: this.#body.subarray(0, size) };
  }

  acked(part: BulkPart): void {
    if (this.#done.has(part.key)) return;
    this.#done.add(part.key);
    this.acked_++;
  }

  requeue(part: BulkPart): void {
    if (!this.#done.has(part.key)) this.#requeued.unshift(part);
  }
}
