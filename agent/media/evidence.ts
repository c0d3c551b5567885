import { sign, type KeyObject } from 'node:crypto';
import {
  chainLink,
  genesisLink,
  manifestDigest,
  type ChunkMeta,
  type ChunkRecord,
  type Gap,
  type Manifest,
  type UnsignedManifest,
} from '../../protocol/media.js';
import type { Fix } from '../../protocol/index.js';
import { hashFile } from './file-hash.js';

/** What the recorder knows about a finished chunk file. */
export interface EvidenceChunkInput {
  path: string;
  startTime: number;
  endTime: number;
  durationS: number;
  salvaged?: boolean;
  /** Container and codecs when they differ from the session's default. */
  codec?: string;
  /** Position when the chunk started, when there was a fix. */
  position?: Fix;
}

export interface EvidenceSessionOptions {
  deviceId: string;
  sessionId: string;
  visitId?: string;
  trigger: 'visit' | 'sos';
  startedAt: number;
  /** Container and codecs of the chunks, e.g. mpegts/h264/aac. */
  codec: string;
  privateKey: KeyObject;
}

/** Ed25519 signature (base64) over the raw bytes of a hex digest or a digest buffer. */
export function signDigest(privateKey: KeyObject, digest: string | Buffer): string {
  const data = typeof digest === 'string' ? Buffer.from(digest, 'hex') : digest;
  return sign(null, data, privateKey).toString('base64');
}

/** Links and signs one chunk's metadata onto the chain ending at `prevLink` (pure apart from the signature). */
export function makeChunkRecord(prevLink: string, meta: ChunkMeta, privateKey: KeyObject): ChunkRecord {
  const link = chainLink(prevLink, meta);
  return { meta, prevLink, link, sig: signDigest(privateKey, link) };
}

/**
 * The hash chain of one recording session on the device. Chunks are hashed
 * (streamed), linked and signed in the order `addChunk` was called, even when
 * calls overlap; `finish` produces the signed manifest.
 */
export class EvidenceSession {
  readonly #opts: EvidenceSessionOptions;
  readonly #records: ChunkRecord[] = [];
  readonly #gaps: Gap[] = [];
  readonly #alarms: string[] = [];
  #tail: Promise<unknown> = Promise.resolve();
  #finished = false;

  constructor(opts: EvidenceSessionOptions) {
    this.#opts = opts;
  }

  /** Rebuilds a session after a restart from its stored records, gaps and alarms. */
  static resume(opts: EvidenceSessionOptions, records: ChunkRecord[], gaps: Gap[] = [], alarms: string[] = []): EvidenceSession {
    const s = new EvidenceSession(opts);
    let prev = genesisLink(opts.deviceId, opts.sessionId);
    for (const [i, r] of records.entries()) {
      if (r.meta.index !== i || r.prevLink !== prev || chainLink(prev, r.meta) !== r.link) {
        throw new Error(`cannot resume session ${opts.sessionId}: stored record ${i} does not continue the chain`);
      }
      prev = r.link;
      s.#records.push(r);
    }
    s.#gaps.push(...gaps);
    for (const a of alarms) s.addAlarm(a);
    return s;
  }

  get sessionId(): string {
    return this.#opts.sessionId;
  }

  get records(): readonly ChunkRecord[] {
    return this.#records;
  }

  /** The link a next chunk will chain onto. */
  get lastLink(): string {
    return this.#records.at(-1)?.link ?? genesisLink(this.#opts.deviceId, this.#opts.sessionId);
  }

  /** Hashes, links and signs a chunk; resolves with its chain record. */
  addChunk(input: EvidenceChunkInput): Promise<ChunkRecord> {
    if (this.#finished) return Promise.reject(new Error(`session ${this.#opts.sessionId} is finished; chunk ${input.path} was not added`));
    const run = this.#tail.then(() => this.#append(input));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Records a stretch without evidence. */
  addGap(gap: Gap): void {
    this.#gaps.push(gap);
  }

  /** Records an alarm raised during the session (once per id). */
  addAlarm(alarmId: string): void {
    if (!this.#alarms.includes(alarmId)) this.#alarms.push(alarmId);
  }

  /** Waits for pending chunks, then returns the signed manifest; no chunk can be added afterwards. */
  async finish(endedAt: number): Promise<Manifest> {
    this.#finished = true;
    await this.#tail;
    const o = this.#opts;
    const unsigned: UnsignedManifest = {
      v: 1,
      deviceId: o.deviceId,
      sessionId: o.sessionId,
      ...(o.visitId === undefined ? {} : { visitId: o.visitId }),
      trigger: o.trigger,
      startedAt: o.startedAt,
      endedAt,
      chunks: this.#records.map((r) => ({ meta: r.meta, link: r.link, sig: r.sig })),
      gaps: [...this.#gaps],
      alarms: [...this.#alarms],
      lastLink: this.lastLink,
    };
    return { ...unsigned, sig: signDigest(o.privateKey, manifestDigest(unsigned)) };
  }

  async #append(input: EvidenceChunkInput): Promise<ChunkRecord> {
    const { sha256, bytes } = await hashFile(input.path);
    const o = this.#opts;
    const meta: ChunkMeta = {
      v: 1,
      deviceId: o.deviceId,
      sessionId: o.sessionId,
      index: this.#records.length,
      startTime: Math.round(input.startTime),
      endTime: Math.round(input.endTime),
      durationS: input.durationS,
      codec: input.codec ?? o.codec,
      bytes,
      sha256,
      ...(input.position === undefined ? {} : { position: input.position }),
      ...(o.visitId === undefined ? {} : { visitId: o.visitId }),
      ...(input.salvaged === true ? { salvaged: true } : {}),
    };
    const record = makeChunkRecord(this.lastLink, meta, o.privateKey);
    this.#records.push(record);
    return record;
  }
}
