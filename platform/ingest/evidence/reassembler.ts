import { decodePart, type ChunkHeader, type PartHeader } from '../../../protocol/media.js';

/*
 * Collects a chunk's binary parts (in any order, repeated) and its JSON
 * header until all are present. Pure and in memory; `maxBytes` bounds what
 * incomplete chunks may hold, evicting the least recently touched chunk
 * first (the device resends what was never acknowledged).
 */

export type AssemblyOutcome =
  | { kind: 'partial'; key: string; have: number; of: number | undefined }
  | { kind: 'complete'; key: string; header: ChunkHeader; bytes: Buffer }
  | { kind: 'rejected'; key?: string; reason: string };

export interface ReassemblerOptions {
  /** Bound on bytes held for incomplete chunks. */
  maxBytes: number;
}

interface Assembly {
  key: string;
  header: ChunkHeader | undefined;
  parts: Map<number, Buffer>;
  partsTotal: number | undefined;
  sha256: string | undefined;
  bytes: number;
}

/** The identity of a chunk in flight. */
export function chunkKey(deviceId: string, sessionId: string, index: number): string {
  return `${deviceId}/${sessionId}/${index}`;
}

export class Reassembler {
  readonly #maxBytes: number;
  /** Insertion order is recency: touching an assembly moves it to the end. */
  readonly #open = new Map<string, Assembly>();
  #bytes = 0;
  #evicted = 0;

  constructor(opts: ReassemblerOptions) {
    this.#maxBytes = opts.maxBytes;
  }

  /** Bytes held for incomplete chunks. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Incomplete chunks evicted to stay under the byte bound, since start. */
  get evictions(): number {
    return this.#evicted;
  }

  get openChunks(): number {
    return this.#open.size;
  }

  /** Takes a chunk's header; `fromDeviceId` (the topic's device) must match it when given. */
  addHeader(header: ChunkHeader, fromDeviceId?: string): AssemblyOutcome {
    const m = header.meta;
    const key = chunkKey(m.deviceId, m.sessionId, m.index);
    if (fromDeviceId !== undefined && (fromDeviceId !== m.deviceId || header.deviceId !== m.deviceId)) {
      return { kind: 'rejected', key, reason: `header for ${key} arrived from device ${fromDeviceId}` };
    }
    const expectedParts = Math.max(1, Math.ceil(m.bytes / header.partSize));
    if (header.partCount !== expectedParts) return { kind: 'rejected', key, reason: `header for ${key}: ${m.bytes} bytes at partSize ${header.partSize} is ${expectedParts} parts, not ${header.partCount}` };
    const a = this.#touch(key);
    if (a.header !== undefined) {
      if (a.header.link !== header.link || a.header.sig !== header.sig) return { kind: 'rejected', key, reason: `header for ${key} arrived twice with different links` };
      return this.#progress(a);
    }
    const clash = this.#mismatch(a, header.partCount, m.sha256);
    if (clash !== undefined) {
      this.#drop(a);
      return { kind: 'rejected', key, reason: `header for ${key} disagrees with parts already received: ${clash}` };
    }
    a.header = header;
    a.partsTotal = header.partCount;
    a.sha256 = m.sha256;
    for (const [i, p] of a.parts) {
      const bad = this.#badLength(header, i, p.length);
      if (bad !== undefined) {
        this.#drop(a);
        return { kind: 'rejected', key, reason: bad };
      }
    }
    return this.#progress(a);
  }

  /** Takes one framed part; garbage and inconsistent parts are rejected with a reason and never kept. */
  addPart(frame: Uint8Array, fromDeviceId?: string): AssemblyOutcome {
    const d = decodePart(frame);
    if (!d.ok) return { kind: 'rejected', reason: `bad part frame: ${d.reason}` };
    const h: PartHeader = d.header;
    const key = chunkKey(h.deviceId, h.sessionId, h.chunkIndex);
    if (fromDeviceId !== undefined && fromDeviceId !== h.deviceId) return { kind: 'rejected', key, reason: `part of ${key} arrived from device ${fromDeviceId}` };
    const existing = this.#open.get(key);
    if (existing !== undefined) {
      const clash = this.#mismatch(existing, h.parts, h.chunkSha256);
      if (clash !== undefined) return { kind: 'rejected', key, reason: `part ${h.part} of ${key} disagrees with the chunk: ${clash}` };
      if (existing.header !== undefined) {
        const bad = this.#badLength(existing.header, h.part, d.payload.length);
        if (bad !== undefined) return { kind: 'rejected', key, reason: bad };
      }
      const have = existing.parts.get(h.part);
      if (have !== undefined) {
        // A resend of the same bytes is harmless; different bytes for one part means one copy is corrupt.
        if (!have.equals(d.payload)) return { kind: 'rejected', key, reason: `part ${h.part} of ${key} arrived twice with different bytes` };
        this.#touch(key);
        return this.#progress(existing);
      }
    }
    if (d.payload.length > this.#maxBytes) return { kind: 'rejected', key, reason: `part ${h.part} of ${key} is larger than the reassembly bound` };
    const a = this.#touch(key);
    a.partsTotal ??= h.parts;
    a.sha256 ??= h.chunkSha256;
    this.#makeRoom(d.payload.length, a);
    if (this.#bytes + d.payload.length > this.#maxBytes) {
      this.#drop(a);
      return { kind: 'rejected', key, reason: `${key} needs more than the ${this.#maxBytes}-byte reassembly bound` };
    }
    a.parts.set(h.part, Buffer.from(d.payload)); // copy: the frame's buffer belongs to the MQTT client
    a.bytes += d.payload.length;
    this.#bytes += d.payload.length;
    return this.#progress(a);
  }

  /** Forgets a chunk in flight (e.g. its session was rejected). */
  drop(key: string): void {
    const a = this.#open.get(key);
    if (a !== undefined) this.#drop(a);
  }

  #progress(a: Assembly): AssemblyOutcome {
    if (a.header === undefined || a.parts.size < a.header.partCount) {
      return { kind: 'partial', key: a.key, have: a.parts.size, of: a.partsTotal };
    }
    const ordered: Buffer[] = [];
    for (let i = 0; i < a.header.partCount; i++) ordered.push(a.parts.get(i)!);
    this.#drop(a);
    return { kind: 'complete', key: a.key, header: a.header, bytes: Buffer.concat(ordered) };
  }

  #mismatch(a: Assembly, parts: number, sha: string): string | undefined {
    if (a.partsTotal !== undefined && a.partsTotal !== parts) return `${parts} parts vs ${a.partsTotal}`;
    if (a.sha256 !== undefined && a.sha256 !== sha) return `sha256 ${sha.slice(0, 12)}… vs ${a.sha256.slice(0, 12)}…`;
    return undefined;
  }

  #badLength(header: ChunkHeader, part: number, length: number): string | undefined {
    const { partSize, partCount } = header;
    const expected = part < partCount - 1 ? partSize : header.meta.bytes - partSize * (partCount - 1);
    const m = header.meta;
    return length === expected ? undefined : `part ${part} of ${chunkKey(m.deviceId, m.sessionId, m.index)} has ${length} bytes, expected ${expected}`;
  }

  #touch(key: string): Assembly {
    let a = this.#open.get(key);
    if (a !== undefined) this.#open.delete(key);
    else a = { key, header: undefined, parts: new Map(), partsTotal: undefined, sha256: undefined, bytes: 0 };
    this.#open.set(key, a);
    return a;
  }

  #makeRoom(incoming: number, keep: Assembly): void {
    for (const a of this.#open.values()) {
      if (this.#bytes + incoming <= this.#maxBytes) return;
      if (a === keep) continue;
      this.#drop(a);
      this.#evicted++;
    }
  }

  #drop(a: Assembly): void {
    this.#open.delete(a.key);
    this.#bytes -= a.bytes;
  }
}
