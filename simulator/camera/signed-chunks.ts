import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  chainLink,
  genesisLink,
  manifestDigest,
  partCount,
  sha256Hex,
  splitIntoParts,
  type ChunkHeader,
  type ChunkMeta,
  type ChunkRecord,
  type Gap,
  type Manifest,
  type UnsignedManifest,
} from '../../protocol/media.js';

/*
 * A recorder's evidence output without the recorder: signs chunk bytes into
 * a session chain and frames them exactly as the protocol says, so the ingest
 * and the fleet simulator can be driven (and attacked) without ffmpeg.
 */

export interface SimDevice {
  deviceId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
}

/** A device identity with a fresh Ed25519 key. */
export function makeSimDevice(deviceId: string): SimDevice {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { deviceId, privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export interface SignedChunk {
  record: ChunkRecord;
  bytes: Buffer;
  /** The JSON header message for this chunk at `partSize`. */
  header(partSize: number): ChunkHeader;
  /** The binary part frames at `partSize`. */
  parts(partSize: number): Buffer[];
}

/** One recording session's chain, built chunk by chunk. */
export class SimEvidenceSession {
  readonly device: SimDevice;
  readonly sessionId: string;
  readonly chunks: SignedChunk[] = [];
  readonly #gaps: Gap[] = [];
  readonly #startedAt: number;
  #seq = 0;

  constructor(device: SimDevice, sessionId: string, startedAt = 1_700_000_000_000) {
    this.device = device;
    this.sessionId = sessionId;
    this.#startedAt = startedAt;
  }

  get lastLink(): string {
    return this.chunks.at(-1)?.record.link ?? genesisLink(this.device.deviceId, this.sessionId);
  }

  /** Signs the next chunk of `bytes` (1 s long each, back to back). */
  add(bytes: Buffer, signWith: KeyObject = this.device.privateKey): SignedChunk {
    const index = this.chunks.length;
    const meta: ChunkMeta = {
      v: 1, deviceId: this.device.deviceId, sessionId: this.sessionId, index,
      startTime: this.#startedAt + index * 1000, endTime: this.#startedAt + (index + 1) * 1000, durationS: 1,
      codec: 'mpegts/h264/aac', bytes: bytes.length, sha256: sha256Hex(bytes),
    };
    const prevLink = this.lastLink;
    const link = chainLink(prevLink, meta);
    const record: ChunkRecord = { meta, prevLink, link, sig: sign(null, Buffer.from(link, 'hex'), signWith).toString('base64') };
    const d = this.device;
    const seq = this.#seq++;
    const chunk: SignedChunk = {
      record,
      bytes,
      header: (partSize) => ({
        v: 1, id: `${this.sessionId}-c${index}`, deviceId: d.deviceId, bootId: 'boot-1', seq, ts: meta.endTime,
        ...record, partCount: partCount(bytes.length, partSize), partSize,
      }),
      parts: (partSize) => splitIntoParts({ deviceId: d.deviceId, sessionId: this.sessionId, chunkIndex: index, chunkSha256: meta.sha256 }, bytes, partSize),
    };
    this.chunks.push(chunk);
    return chunk;
  }

  addGap(gap: Gap): void {
    this.#gaps.push(gap);
  }

  /** The signed manifest over every chunk so far. */
  manifest(signWith: KeyObject = this.device.privateKey): Manifest {
    const unsigned: UnsignedManifest = {
      v: 1, deviceId: this.device.deviceId, sessionId: this.sessionId, trigger: 'visit',
      startedAt: this.#startedAt, endedAt: this.#startedAt + this.chunks.length * 1000,
      chunks: this.chunks.map((c) => ({ meta: c.record.meta, link: c.record.link, sig: c.record.sig })),
      gaps: [...this.#gaps], alarms: [], lastLink: this.lastLink,
    };
    return { ...unsigned, sig: sign(null, manifestDigest(unsigned), signWith).toString('base64') };
  }
}
