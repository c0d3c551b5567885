import { join } from 'node:path';
import { chunkHeaderValidator, manifestDigest, manifestValidator, verifyDigestSignature, type ChunkHeader, type ChunkRecord, type Manifest } from '../../../protocol/media.js';
import { checkBytes, checkRecord, continuity } from './chunk-verify.js';
import { chunkFileName, type EvidenceStore } from './evidence-store.js';
import type { KeyRing } from './keys.js';
import { Reassembler } from './reassembler.js';

/*
 * The ingest's evidence path: parts and headers in, verified chunks stored.
 * A complete chunk is checked (bytes, link, signature with the registered
 * key), then stored when it continues its chain, held in memory when an
 * earlier chunk is still missing, acknowledged again when already stored, and
 * rejected (never stored) otherwise. `ack` names the header message id the
 * device is waiting for.
 */

export type IntakeResult =
  | { kind: 'partial'; key: string }
  | { kind: 'stored'; key: string; ack: string; path: string; record: ChunkRecord }
  | { kind: 'duplicate'; key: string; ack: string; record?: ChunkRecord; path?: string }
  | { kind: 'held'; key: string; reason: string }
  | { kind: 'rejected'; key?: string; reason: string; code?: string }
  | { kind: 'manifest'; key: string; ack: string; path: string; manifest: Manifest };

export interface IntakeOptions {
  store: EvidenceStore;
  keys: KeyRing;
  /** Bound on bytes of incomplete chunks. */
  maxAssemblyBytes: number;
  /** Bound on bytes of complete chunks waiting for an earlier one. */
  maxHeldBytes?: number;
}

interface Held {
  header: ChunkHeader;
  bytes: Buffer;
}

export class EvidenceIntake {
  readonly #o: IntakeOptions & { maxHeldBytes: number };
  readonly #asm: Reassembler;
  /** Per session, verified chunks ahead of the stored chain, by index. */
  readonly #held = new Map<string, Map<number, Held>>();
  #heldBytes = 0;

  constructor(opts: IntakeOptions) {
    this.#o = { maxHeldBytes: opts.maxAssemblyBytes, ...opts };
    this.#asm = new Reassembler({ maxBytes: opts.maxAssemblyBytes });
  }

  /** Takes a chunk header (parsed JSON); validates it first. */
  async onHeader(payload: unknown, fromDeviceId?: string): Promise<IntakeResult[]> {
    const v = chunkHeaderValidator.check(payload);
    if (!v.ok) return [{ kind: 'rejected', reason: v.errors.join('; ') }];
    return this.#after(this.#asm.addHeader(v.value, fromDeviceId));
  }

  /** Takes one binary part frame. */
  async onPart(frame: Uint8Array, fromDeviceId?: string): Promise<IntakeResult[]> {
    return this.#after(this.#asm.addPart(frame, fromDeviceId));
  }

  /** Takes a manifest: validated, signature checked with the device's key, then stored. */
  async onManifest(payload: unknown, ack: string, fromDeviceId?: string): Promise<IntakeResult> {
    const v = manifestValidator.check(payload);
    if (!v.ok) return { kind: 'rejected', reason: v.errors.join('; ') };
    const m = v.value;
    const key = `${m.deviceId}/${m.sessionId}`;
    if (fromDeviceId !== undefined && fromDeviceId !== m.deviceId) return { kind: 'rejected', key, reason: `manifest of ${key} arrived from device ${fromDeviceId}` };
    const pub = this.#o.keys.get(m.deviceId);
    if (pub === undefined) return { kind: 'rejected', key, reason: `no registered key for device ${m.deviceId}` };
    if (!verifyDigestSignature(manifestDigest(m), m.sig, pub)) return { kind: 'rejected', key, reason: `manifest of ${key}: signature does not verify with the device's registered key` };
    for (const c of m.chunks) {
      if (c.meta.deviceId !== m.deviceId || c.meta.sessionId !== m.sessionId) return { kind: 'rejected', key, reason: `manifest of ${key} lists chunk ${c.meta.deviceId}/${c.meta.sessionId}/${c.meta.index}` };
    }
    const r = await this.#o.store.storeManifest(m);
    return r.ok ? { kind: 'manifest', key, ack, path: r.path, manifest: m } : { kind: 'rejected', key, reason: r.reason };
  }

  /** Bytes held in memory: incomplete chunks plus complete ones waiting for an earlier chunk. */
  get bufferedBytes(): number {
    return this.#asm.bufferedBytes + this.#heldBytes;
  }

  async #after(o: ReturnType<Reassembler['addPart']>): Promise<IntakeResult[]> {
    if (o.kind === 'partial') return [{ kind: 'partial', key: o.key }];
    if (o.kind === 'rejected') return [o];
    return this.#complete(o.header, o.bytes);
  }

  async #complete(header: ChunkHeader, bytes: Buffer): Promise<IntakeResult[]> {
    const record: ChunkRecord = { meta: header.meta, prevLink: header.prevLink, link: header.link, sig: header.sig };
    const m = record.meta;
    const key = `${m.deviceId}/${m.sessionId}/${m.index}`;
    const pub = this.#o.keys.get(m.deviceId);
    if (pub === undefined) return [{ kind: 'rejected', key, reason: `no registered key for device ${m.deviceId}` }];
    for (const check of [checkBytes(record, bytes), checkRecord(record, pub)]) {
      if (!check.ok) return [{ kind: 'rejected', key, reason: check.reason }];
    }
    const chain = await this.#o.store.chain(m.deviceId, m.sessionId);
    const last = chain.at(-1);
    const c = continuity(record, last === undefined ? undefined : { index: last.meta.index, link: last.link });
    if (c.kind === 'behind') {
      return chain[m.index]?.link === record.link
        ? [{ kind: 'duplicate', key, ack: header.id, record: chain[m.index], path: join(this.#o.store.sessionDir(m.deviceId, m.sessionId), chunkFileName(m.index)) }]
        : [{ kind: 'rejected', key, reason: `chunk ${key} conflicts with the stored chunk of that index (a fork)` }];
    }
    if (c.kind === 'broken') return [{ kind: 'rejected', key, reason: c.reason ?? 'chain broken' }];
    if (c.kind === 'ahead') return [this.#hold(header, bytes, c.reason ?? 'waiting for an earlier chunk')];
    const stored = await this.#o.store.storeChunk(record, bytes);
    if (!stored.ok) return [{ kind: 'rejected', key, reason: stored.reason }];
    const results: IntakeResult[] = [{ kind: 'stored', key, ack: header.id, path: stored.path, record }];
    const next = this.#takeHeld(m.deviceId, m.sessionId, m.index + 1);
    if (next !== undefined) results.push(...(await this.#complete(next.header, next.bytes)));
    return results;
  }

  #hold(header: ChunkHeader, bytes: Buffer, reason: string): IntakeResult {
    const m = header.meta;
    const key = `${m.deviceId}/${m.sessionId}/${m.index}`;
    if (this.#heldBytes + bytes.length > this.#o.maxHeldBytes) return { kind: 'rejected', key, reason: `${reason}; no room to hold it (the device will resend)` };
    const s = `${m.deviceId}/${m.sessionId}`;
    let held = this.#held.get(s);
    if (held === undefined) this.#held.set(s, (held = new Map()));
    if (!held.has(m.index)) {
      held.set(m.index, { header, bytes });
      this.#heldBytes += bytes.length;
    }
    return { kind: 'held', key, reason };
  }

  #takeHeld(deviceId: string, sessionId: string, index: number): Held | undefined {
    const s = `${deviceId}/${sessionId}`;
    const held = this.#held.get(s);
    const h = held?.get(index);
    if (held === undefined || h === undefined) return undefined;
    held.delete(index);
    if (held.size === 0) this.#held.delete(s);
    this.#heldBytes -= h.bytes.length;
    return h;
  }
}
