import { EventEmitter } from 'node:events';
import type { BulkPart, BulkSource } from '../agent/transport/bulk-pump.js';

/** A queue of synthetic media parts (random bytes), as the uploader would offer them. */
export class SyntheticBulkSource extends EventEmitter implements BulkSource {
  readonly #queue: BulkPart[] = [];
  readonly #done = new Set<string>();
  acked_ = 0;

  constructor(topic: string, totalBytes: number, partBytes: number) {
    super();
    const body = Buffer.alloc(partBytes);
    for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
    for (let i = 0; i * partBytes < totalBytes; i++) this.#queue.push({ key: `p${i}`, topic, payload: body });
  }

  get remaining(): number {
    return this.#queue.length;
  }

  next(): BulkPart | undefined {
    return this.#queue.shift();
  }

  acked(part: BulkPart): void {
    if (this.#done.has(part.key)) return;
    this.#done.add(part.key);
    this.acked_++;
    const i = this.#queue.indexOf(part);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  requeue(part: BulkPart): void {
    if (!this.#done.has(part.key)) this.#queue.unshift(part);
  }
}
