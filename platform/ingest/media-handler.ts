import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { chunkHeaderValidator, decodePart, isValidId, MAX_PART_BYTES, type ChunkRecord, type Manifest } from '../../protocol/index.js';
import { CHAIN_FILE, chunkFileName, checkRecord, DirKeyRing, EvidenceIntake, EvidenceStore, readChainFile, type IntakeResult } from './evidence/index.js';
import { PartSpool, type ChunkRef, type Claim } from './part-spool.js';
import { partLength } from './spool-plan.js';

export { DirKeyRing } from './evidence/index.js';

/** Evidence now on disk, for the store's index (a repeat is indexed again: indexing is idempotent). */
export type EvidenceIndexItem = { kind: 'chunk'; record: ChunkRecord; path: string } | { kind: 'manifest'; manifest: Manifest; path: string };

export interface MediaOutcome {
  acks: string[];
  stored: number;
  indexed: EvidenceIndexItem[];
  rejected: string[];
  /** Why, per entry of `rejected`, as a stable code (SpoolRejectCode, or 'evidence' for what the chain and signature checks refused). */
  rejectCodes: string[];
}

/**
 * Why the spool refused a header or part, for counting:
 * - `header-bounds`: part size or count outside the bounds, or a header for a chunk larger than a device may send
 * - `unverified`: no registered key, or a header whose link or signature does not verify (checked before anything is spooled)
 * - `index-bounds`: a chunk index too far ahead of what the session has stored
 * - `spool-quota`: the device's chunks in the spool would exceed its byte or count quota
 * - `header-conflict`: a different header for a chunk whose header is already spooled
 * - `headerless`: a part of a chunk whose header has not arrived, beyond the few the spool keeps waiting for it
 * - `part-bounds`: a part that does not fit its header (index, count, chunk hash or length)
 */
export type SpoolRejectCode = 'header-bounds' | 'unverified' | 'index-bounds' | 'spool-quota' | 'header-conflict' | 'headerless' | 'part-bounds';

/** An outcome of spool maintenance, for the device whose chunks it settled. */
export interface DeviceOutcome extends MediaOutcome {
  deviceId: string;
}

export interface MediaHandlerOptions {
  /** Largest chunk accepted (bytes); it is read into memory once complete. Default 64 MiB (a 10 s chunk of 1080p at 8 Mbit/s is 10 MB). */
  maxChunkBytes?: number;
  /** Largest part payload (bytes). Default MAX_PART_BYTES (128 KiB), what devices send at most. */
  maxPartBytes?: number;
  /** Most parts one chunk may be split into. Default 8192. */
  maxPartsPerChunk?: number;
  /** Per device: most bytes its chunks may declare in the spool. Default 256 MiB; at least maxChunkBytes. */
  spoolQuotaBytes?: number;
  /** Per device: most chunks in the spool (collecting, claimed, verified). Default 64. */
  spoolQuotaChunks?: number;
  /** How far a chunk's index may run ahead of its session's stored chain. Default spoolQuotaChunks (chunks ahead wait in the spool anyway). */
  maxChunksAhead?: number;
  /** Per device: parts kept waiting for a header that has not arrived (another worker of a share group may be writing it). Default 32. */
  maxHeaderlessParts?: number;
  /** Spool entries untouched this long are dropped by maintain(). Default 1 h. */
  spoolMaxAgeMs?: number;
}

type Bounds = Required<Omit<MediaHandlerOptions, 'spoolMaxAgeMs'>>;

function bounds(o: MediaHandlerOptions): Bounds {
  const quotaChunks = o.spoolQuotaChunks ?? 64;
  const b: Bounds = {
    maxChunkBytes: o.maxChunkBytes ?? 64 * 1024 * 1024,
    maxPartBytes: o.maxPartBytes ?? MAX_PART_BYTES,
    maxPartsPerChunk: o.maxPartsPerChunk ?? 8192,
    spoolQuotaBytes: o.spoolQuotaBytes ?? 256 * 1024 * 1024,
    spoolQuotaChunks: quotaChunks,
    maxChunksAhead: o.maxChunksAhead ?? quotaChunks,
    maxHeaderlessParts: o.maxHeaderlessParts ?? 32,
  };
  if (b.spoolQuotaBytes < b.maxChunkBytes) throw new Error(`spoolQuotaBytes ${b.spoolQuotaBytes} is below maxChunkBytes ${b.maxChunkBytes}: the largest chunk could never be spooled`);
  return b;
}

/** Chains read from disk, reused while chain.ndjson is unchanged (one stat per message instead of a parse). */
interface CachedChain {
  ino: number;
  size: number;
  mtimeMs: number;
  records: ChunkRecord[];
}
const CHAIN_CACHE = 256;

/**
 * The ingest's evidence path over MQTT: chunk headers, binary parts and
 * manifests in; acks out. Headers and parts go to the shared PartSpool
 * (`<store>/_incoming`) as they arrive, so a chunk completes whichever
 * workers of a shared subscription received its pieces, and survives an
 * ingest restart. The worker whose write completes a chunk claims it and,
 * under the session's lock, verifies and stores it (or finds it stored).
 *
 * Chain continuity across workers: a verified chunk whose predecessor is not
 * stored yet is parked in the spool (`<index>.verified`), and whoever stores
 * chunk N then stores a parked N+1, and so on, under the same lock, so no
 * wakeup is lost between workers. Storing each verified chunk on its own
 * (leaving continuity to `nrec verify`) would have been simpler, but the
 * store's chain.ndjson is the chain in order from genesis and the ingest's
 * promise is that whatever it stored continues it: an acknowledged chunk is
 * one the chain already proves.
 */
export class MediaHandler {
  readonly spool: PartSpool;
  readonly #evidenceRoot: string;
  readonly #keys: DirKeyRing;
  readonly #manifests: EvidenceIntake;
  readonly #log: Logger;
  readonly #maxChunkBytes: number;
  readonly #b: Bounds;
  readonly #chains = new Map<string, CachedChain>();

  constructor(storeDir: string, logger: Logger, opts: MediaHandlerOptions = {}) {
    this.#evidenceRoot = join(storeDir, 'evidence');
    this.#keys = new DirKeyRing(join(storeDir, 'keys'));
    this.#b = bounds(opts);
    this.#maxChunkBytes = this.#b.maxChunkBytes;
    this.#manifests = new EvidenceIntake({ store: new EvidenceStore(this.#evidenceRoot), keys: this.#keys, maxAssemblyBytes: this.#maxChunkBytes });
    this.spool = new PartSpool({ root: join(storeDir, '_incoming'), maxAgeMs: opts.spoolMaxAgeMs });
    this.#log = logger;
  }

  /** Handles one message on nrec/v1/{device}/media/{sub}. */
  async handle(deviceId: string, sub: string | undefined, payload: Buffer): Promise<MediaOutcome> {
    if (sub === 'part') return summarize(await this.#onPart(payload, deviceId), this.#log);
    if (sub !== 'chunk' && sub !== 'manifest') return refused(`unknown media channel "${sub ?? ''}"`);
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return refused(`media/${sub}: payload is not JSON (${(err as Error).message})`);
    }
    if (sub === 'chunk') return summarize(await this.#onHeader(json, payload, deviceId), this.#log);
    const msg = json as { id?: unknown; manifest?: unknown; deviceId?: unknown };
    if (typeof msg.id !== 'string') return refused('media/manifest: message has no id');
    if (msg.deviceId !== deviceId) return refused(`media/manifest: payload deviceId "${String(msg.deviceId)}" differs from topic device "${deviceId}"`);
    return summarize([await this.#manifests.onManifest(msg.manifest, msg.id, deviceId)], this.#log);
  }

  /**
   * Drops spool entries untouched for the maximum age, then settles what no
   * worker is on: complete chunks left unclaimed, claims of workers that
   * died, parked chunks whose predecessor is now stored. Run at start-up and
   * periodically; returns what it stored or found stored, per device.
   */
  async maintain(): Promise<DeviceOutcome[]> {
    const swept = await this.spool.sweep();
    if (swept.chunks + swept.tmp > 0) this.#log.info({ ...swept }, 'spool: dropped chunks in flight untouched for too long (their devices resend them if still unacknowledged)');
    const byDevice = new Map<string, IntakeResult[]>();
    for (const item of await this.spool.scan()) {
      const take = item.kind === 'complete' ? () => this.spool.claim(item.ref)
        : item.kind === 'verified' ? () => this.spool.claimVerified(item.ref)
        : () => this.spool.adopt(item.ref, item.name);
      if (item.kind === 'abandoned') this.#log.warn({ chunk: keyOf(item.ref), claim: item.name }, 'spool: taking over a chunk claimed by a worker that is gone');
      const results = await this.#settle(item.ref, take);
      if (results.length > 0) byDevice.set(item.ref.deviceId, [...(byDevice.get(item.ref.deviceId) ?? []), ...results]);
    }
    return [...byDevice].map(([deviceId, results]) => ({ deviceId, ...summarize(results, this.#log) }));
  }

  /*
   * Admission of a header to the spool, before anything of its chunk is
   * written: its bounds, its signature (so only the holder of the device's key
   * can take the device's share of the spool), its index against the stored
   * chain, and the device's quota. Its parts are then held to what it declares.
   */
  async #onHeader(json: unknown, raw: Buffer, fromDeviceId: string): Promise<IntakeResult[]> {
    const v = chunkHeaderValidator.check(json);
    if (!v.ok) return [{ kind: 'rejected', reason: v.errors.join('; ') }];
    const h = v.value;
    const m = h.meta;
    const ref = { deviceId: m.deviceId, sessionId: m.sessionId, index: m.index };
    const key = keyOf(ref);
    const b = this.#b;
    // The messages below repeat the Reassembler's, so a rejection reads the same whichever stage caught it.
    if (fromDeviceId !== m.deviceId || h.deviceId !== m.deviceId) return [{ kind: 'rejected', key, reason: `header for ${key} arrived from device ${fromDeviceId}` }];
    if (!isValidId(m.deviceId) || !isValidId(m.sessionId)) return [{ kind: 'rejected', key, reason: `header for ${key} has an invalid device or session id` }];
    const expectedParts = Math.max(1, Math.ceil(m.bytes / h.partSize));
    if (h.partCount !== expectedParts) return [{ kind: 'rejected', key, reason: `header for ${key}: ${m.bytes} bytes at partSize ${h.partSize} is ${expectedParts} parts, not ${h.partCount}` }];
    if (m.bytes > b.maxChunkBytes) return [rejected(key, 'header-bounds', `${key} needs more than the ${b.maxChunkBytes}-byte reassembly bound`)];
    if (h.partSize > b.maxPartBytes) return [rejected(key, 'header-bounds', `header for ${key}: partSize ${h.partSize} is over ${b.maxPartBytes} bytes`)];
    if (h.partCount > b.maxPartsPerChunk) return [rejected(key, 'header-bounds', `header for ${key}: ${h.partCount} parts is over ${b.maxPartsPerChunk}`)];
    const stored = await this.#storedChain(ref);
    const record = stored?.[m.index];
    if (record?.meta.index === m.index) {
      // A resend of a stored chunk (its ack was lost, or came after the device's resend timer): acknowledge at once.
      if (record.link !== h.link) return [{ kind: 'rejected', key, reason: `chunk ${key} conflicts with the stored chunk of that index (a fork)` }];
      await this.spool.dropCollecting(ref);
      return [{ kind: 'duplicate', key, ack: h.id, record, path: this.#chunkPath(record) }];
    }
    const pub = this.#keys.get(m.deviceId);
    if (pub === undefined) return [rejected(key, 'unverified', `no registered key for device ${m.deviceId}`)];
    const sig = checkRecord({ meta: m, prevLink: h.prevLink, link: h.link, sig: h.sig }, pub);
    if (!sig.ok) return [rejected(key, 'unverified', sig.reason)];
    const tip = stored?.length ?? 0;
    if (m.index > tip + b.maxChunksAhead) return [rejected(key, 'index-bounds', `chunk index ${m.index} is ${m.index - tip} ahead of the ${tip} chunks stored for ${m.deviceId}/${m.sessionId} (at most ${b.maxChunksAhead}); the device will resend it`)];
    if (this.spool.plan(ref) === undefined) {
      // A new chunk for the spool: it takes its declared size from the device's quota.
      const u = this.spool.usage(m.deviceId);
      if (u.chunks + 1 > b.spoolQuotaChunks || u.bytes + m.bytes > b.spoolQuotaBytes) {
        return [rejected(key, 'spool-quota', `device ${m.deviceId} has ${u.chunks} chunks (${u.bytes} bytes) in the spool; ${key} (${m.bytes} bytes) would pass its quota of ${b.spoolQuotaChunks} chunks or ${b.spoolQuotaBytes} bytes; the device will resend it`)];
      }
    }
    if ((await this.spool.putHeader(ref, raw)) === 'conflict') return [rejected(key, 'header-conflict', `header for ${key} differs from the one already spooled for that chunk`)];
    return this.#ifComplete(ref, (r) => r.link === h.link, h.id);
  }

  async #onPart(frame: Buffer, fromDeviceId: string): Promise<IntakeResult[]> {
    const d = decodePart(frame);
    if (!d.ok) return [{ kind: 'rejected', reason: `bad part frame: ${d.reason}` }];
    const h = d.header;
    const ref = { deviceId: h.deviceId, sessionId: h.sessionId, index: h.chunkIndex };
    const key = keyOf(ref);
    const b = this.#b;
    if (fromDeviceId !== h.deviceId) return [{ kind: 'rejected', key, reason: `part of ${key} arrived from device ${fromDeviceId}` }];
    if (d.payload.length > b.maxPartBytes) return [rejected(key, 'part-bounds', `part ${h.part} of ${key} carries ${d.payload.length} bytes, over ${b.maxPartBytes}`)];
    const stored = await this.#storedRecord(ref);
    if (stored !== undefined) {
      if (stored.meta.sha256 !== h.chunkSha256) return [{ kind: 'rejected', key, reason: `part ${h.part} of ${key} belongs to another chunk than the stored one (a fork)` }];
      return []; // a part of a resent chunk already stored: its header brings the ack
    }
    const plan = this.spool.plan(ref);
    if (plan === undefined) {
      // The device sends a chunk's header just ahead of its parts, but a share group's worker may
      // get a part while another is still writing the header: keep a few waiting, no more.
      const tip = (await this.#storedChain(ref))?.length ?? 0;
      if (h.chunkIndex > tip + b.maxChunksAhead) return [rejected(key, 'index-bounds', `part ${h.part} of ${key} came without its header, for chunk index ${h.chunkIndex}, ${h.chunkIndex - tip} ahead of the ${tip} chunks stored (at most ${b.maxChunksAhead})`)];
      const u = this.spool.usage(h.deviceId);
      if (u.headerlessParts >= b.maxHeaderlessParts) return [rejected(key, 'headerless', `part ${h.part} of ${key} came without its header, and device ${h.deviceId} already has ${u.headerlessParts} parts waiting for theirs (at most ${b.maxHeaderlessParts}); the device will resend the chunk`)];
      if (u.chunks + 1 > b.spoolQuotaChunks || u.bytes + d.payload.length > b.spoolQuotaBytes) return [rejected(key, 'spool-quota', `part ${h.part} of ${key} came without its header and would pass device ${h.deviceId}'s spool quota`)];
    } else {
      const want = partLength(plan, h.part);
      if (h.parts !== plan.partCount || h.part >= plan.partCount) return [rejected(key, 'part-bounds', `part ${h.part} of ${h.parts} does not fit ${key}, whose header announces ${plan.partCount} parts`)];
      if (h.chunkSha256 !== plan.sha256) return [rejected(key, 'part-bounds', `part ${h.part} of ${key} names chunk sha256 ${h.chunkSha256.slice(0, 12)}…, the header ${plan.sha256.slice(0, 12)}…`)];
      if (d.payload.length !== want) return [rejected(key, 'part-bounds', `part ${h.part} of ${key} carries ${d.payload.length} bytes; its header makes it ${want}`)];
    }
    await this.spool.putPart(ref, h.part, frame);
    this.#log.debug({ chunk: key, part: h.part }, 'evidence part spooled');
    return this.#ifComplete(ref, (r) => r.meta.sha256 === h.chunkSha256);
  }

  /** After a write: settles the chunk when complete; `same` tells whether a stored record is the chunk just written to, `ack` its header id if it was a header. */
  async #ifComplete(ref: ChunkRef, same: (stored: ChunkRecord) => boolean, ack?: string): Promise<IntakeResult[]> {
    if (await this.spool.isComplete(ref)) return this.#settle(ref, () => this.spool.claim(ref));
    // Stored by another worker between our check and our write (which then re-created a collecting
    // directory after the storer removed it): nobody would collect this copy, so drop it now, not at the sweep.
    const stored = await this.#storedRecord(ref);
    if (stored !== undefined && same(stored)) {
      await this.spool.dropCollecting(ref);
      return ack === undefined ? [] : [{ kind: 'duplicate', key: keyOf(ref), ack, record: stored, path: this.#chunkPath(stored) }];
    }
    return [{ kind: 'partial', key: keyOf(ref) }];
  }

  /**
   * Under the session lock: takes a chunk (`take` returns undefined when
   * another worker got it first), verifies and stores it, then any parked
   * successors it unblocks.
   */
  #settle(ref: ChunkRef, take: () => Promise<Claim | undefined>): Promise<IntakeResult[]> {
    return this.spool.withSessionLock(ref.deviceId, ref.sessionId, async () => {
      const results: IntakeResult[] = [];
      for (let c = await take(); c !== undefined; ) {
        const r = await this.#verifyAndStore(c);
        results.push(...r);
        c = r.some((x) => x.kind === 'stored') ? await this.spool.claimVerified({ ...c.ref, index: c.ref.index + 1 }) : undefined;
      }
      return results;
    });
  }

  /** Feeds one claimed chunk to a fresh intake and files the claim by the verdict. */
  async #verifyAndStore(c: Claim): Promise<IntakeResult[]> {
    const key = keyOf(c.ref);
    let spooled: { header: string; frames: Buffer[] };
    let header: unknown;
    try {
      spooled = await this.spool.read(c);
      header = JSON.parse(spooled.header);
    } catch (err) {
      await this.spool.discard(c);
      return [{ kind: 'rejected', key, reason: `spooled chunk ${key} is unreadable (${(err as Error).message}); the device will resend it` }];
    }
    // A fresh store reads chain.ndjson from disk: another worker may have extended it since.
    const intake = new EvidenceIntake({ store: new EvidenceStore(this.#evidenceRoot), keys: this.#keys, maxAssemblyBytes: this.#maxChunkBytes });
    const out = await intake.onHeader(header, c.ref.deviceId);
    for (const f of spooled.frames) out.push(...(await intake.onPart(f, c.ref.deviceId)));
    const results = out.filter((r) => r.kind !== 'partial');
    if (results.some((r) => r.kind === 'held')) {
      await this.spool.park(c);
      return results;
    }
    await this.spool.discard(c);
    if (results.some((r) => r.kind === 'stored' || r.kind === 'duplicate')) {
      this.#chains.delete(`${c.ref.deviceId}/${c.ref.sessionId}`);
      await this.spool.dropCollecting(c.ref);
    }
    return results.length > 0 ? results : [{ kind: 'rejected', key, reason: `spooled chunk ${key} did not reassemble` }];
  }

  /** Where the evidence store keeps a chunk's bytes. */
  #chunkPath(r: ChunkRecord): string {
    return join(this.#evidenceRoot, r.meta.deviceId, r.meta.sessionId, chunkFileName(r.meta.index));
  }

  /**
   * How far a manifest is borne out by what is stored: verified when every chunk it lists is in the
   * session's stored chain with the same link (each was checked, bytes and signature, when stored)
   * and the chain ends at its last link; pending while some are still on their way.
   */
  async manifestState(m: Manifest): Promise<{ verification: 'verified' | 'pending' | 'failed'; detail?: string }> {
    const r = await readChainFile(join(this.#evidenceRoot, m.deviceId, m.sessionId, CHAIN_FILE));
    const chain = r.ok ? r.records : [];
    const missing: number[] = [];
    for (const c of m.chunks) {
      const s = chain[c.meta.index];
      if (s === undefined) missing.push(c.meta.index);
      else if (s.link !== c.link) return { verification: 'failed', detail: `chunk ${c.meta.index}: the manifest's link differs from the stored chunk's` };
    }
    if (missing.length > 0) return { verification: 'pending', detail: `${missing.length} of ${m.chunks.length} chunks not stored yet (first: ${missing[0]})` };
    if (chain.length > m.chunks.length) return { verification: 'failed', detail: `the store holds ${chain.length} chunks, the manifest lists ${m.chunks.length}` };
    const last = m.chunks.at(-1);
    if (last !== undefined && last.link !== m.lastLink) return { verification: 'failed', detail: 'the manifest\'s lastLink is not its last chunk\'s link' };
    return { verification: 'verified' };
  }

  /** The stored record of a chunk, read from chain.ndjson (which any worker may have extended). */
  async #storedRecord(ref: ChunkRef): Promise<ChunkRecord | undefined> {
    const rec = (await this.#storedChain(ref))?.[ref.index];
    return rec?.meta.index === ref.index ? rec : undefined;
  }

  /** A session's stored chain (undefined when nothing is stored), cached while chain.ndjson is unchanged. */
  async #storedChain(ref: ChunkRef): Promise<readonly ChunkRecord[] | undefined> {
    const s = `${ref.deviceId}/${ref.sessionId}`;
    const path = join(this.#evidenceRoot, ref.deviceId, ref.sessionId, CHAIN_FILE);
    // Synchronous: one stat per message, cheaper than a thread-pool round trip (see PartSpool #put).
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    let c = this.#chains.get(s);
    if (c === undefined || c.ino !== st.ino || c.size !== st.size || c.mtimeMs !== st.mtimeMs) {
      const r = await readChainFile(path);
      if (!r.ok) return undefined; // the intake reports a broken chain file when it tries to store
      c = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, records: r.records };
      if (this.#chains.size >= CHAIN_CACHE) this.#chains.delete(this.#chains.keys().next().value!);
    }
    this.#chains.delete(s); // re-inserted last: the map's order is recency
    this.#chains.set(s, c);
    return c.records;
  }
}

function keyOf(ref: ChunkRef): string {
  return `${ref.deviceId}/${ref.sessionId}/${ref.index}`;
}

/** A spool refusal, with its code. */
function rejected(key: string, code: SpoolRejectCode, reason: string): IntakeResult {
  return { kind: 'rejected', key, reason, code };
}

/** An outcome of one refusal that names no chunk. */
function refused(reason: string): MediaOutcome {
  return { acks: [], stored: 0, indexed: [], rejected: [reason], rejectCodes: ['evidence'] };
}

function summarize(results: IntakeResult[], log: Logger): MediaOutcome {
  const out: MediaOutcome = { acks: [], stored: 0, indexed: [], rejected: [], rejectCodes: [] };
  for (const r of results) {
    if (r.kind === 'stored') out.indexed.push({ kind: 'chunk', record: r.record, path: r.path });
    if (r.kind === 'manifest') out.indexed.push({ kind: 'manifest', manifest: r.manifest, path: r.path });
    if (r.kind === 'duplicate' && r.record !== undefined && r.path !== undefined) out.indexed.push({ kind: 'chunk', record: r.record, path: r.path });
    if (r.kind === 'stored' || r.kind === 'manifest') {
      out.stored++;
      out.acks.push(r.ack);
      // Not `key`: the logger redacts fields of that name (they hold secrets elsewhere).
      log.info({ chunk: r.key, kind: r.kind }, 'evidence stored');
    } else if (r.kind === 'duplicate') {
      out.acks.push(r.ack);
    } else if (r.kind === 'rejected') {
      out.rejected.push(`${r.key ?? ''}: ${r.reason}`);
      out.rejectCodes.push(r.code ?? 'evidence');
    } else if (r.kind === 'held') {
      log.debug({ chunk: r.key, reason: r.reason }, 'evidence chunk verified, parked in the spool for its predecessor');
    }
  }
  return out;
}
