/*
 * What a chunk's header promises, as the spool uses it to bound and track
 * the chunk's parts: how many, how long each, and which chunk they belong to.
 */

export interface ChunkPlan {
  partCount: number;
  partSize: number;
  /** The chunk's declared size: what it may take in the spool. */
  bytes: number;
  sha256: string;
  link: string;
}

/** The plan of a spooled header (the raw JSON as received); undefined when it is not one. */
export function planOf(header: string | Uint8Array): ChunkPlan | undefined {
  let h: { partCount?: unknown; partSize?: unknown; link?: unknown; meta?: { bytes?: unknown; sha256?: unknown } };
  try {
    h = JSON.parse(typeof header === 'string' ? header : Buffer.from(header).toString('utf8')) as typeof h;
  } catch {
    return undefined;
  }
  const int = (n: unknown) => (typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined);
  const partCount = int(h.partCount);
  const partSize = int(h.partSize);
  const bytes = int(h.meta?.bytes);
  if (partCount === undefined || partCount < 1 || partSize === undefined || partSize < 1 || bytes === undefined || bytes < 0) return undefined;
  return { partCount, partSize, bytes, sha256: String(h.meta?.sha256 ?? ''), link: String(h.link ?? '') };
}

/** Payload bytes part `i` carries: partSize for all but the last, the rest for the last. */
export function partLength(plan: ChunkPlan, i: number): number {
  return i < plan.partCount - 1 ? plan.partSize : plan.bytes - (plan.partCount - 1) * plan.partSize;
}

/** Whether two headers describe the same chunk split the same way (a resend), rather than a conflicting one. */
export function samePlan(a: ChunkPlan, b: ChunkPlan): boolean {
  return a.link === b.link && a.sha256 === b.sha256 && a.bytes === b.bytes && a.partCount === b.partCount && a.partSize === b.partSize;
}

/** A Map that forgets its least recently used entries beyond `cap`. */
export class LruMap<K, V> {
  readonly #cap: number;
  readonly #m = new Map<K, V>();

  constructor(cap: number) {
    this.#cap = cap;
  }

  get(k: K): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }

  set(k: K, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    if (this.#m.size > this.#cap) this.#m.delete(this.#m.keys().next().value as K);
  }

  delete(k: K): void {
    this.#m.delete(k);
  }

  get size(): number {
    return this.#m.size;
  }
}
