import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Id, message } from './envelope.js';
import { Fix } from './messages.js';
import { Validator } from './validate.js';

/*
 * Evidence media, version 1.
 *
 * A recording session is a hash chain of chunks. Each chunk's metadata is
 * hashed in canonical JSON together with the previous link:
 *   link[i] = SHA-256( raw(link[i-1]) ‖ canonicalJson(meta[i]) ),  link[-1] = genesisLink(deviceId, sessionId)
 * and the device signs the 32 raw bytes of every link with its Ed25519 key.
 * A signed manifest closes the session. Chunk bytes travel as binary parts
 * (framing below), never base64; the JSON header (`chunk-meta`) carries the
 * record and how many parts to expect.
 */

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, lower-case hex' });
const Signature = Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$', description: 'Ed25519 signature, base64 (64 bytes)' });

/** The signed facts about one chunk; hashed in canonical JSON into the chain. */
export const ChunkMeta = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    sessionId: Id,
    index: Type.Integer({ minimum: 0, description: 'position in the session chain, from 0' }),
    startTime: Type.Integer({ minimum: 0, description: 'epoch ms of the first frame' }),
    endTime: Type.Integer({ minimum: 0, description: 'epoch ms after the last frame' }),
    durationS: Type.Number({ minimum: 0 }),
    codec: Type.String({ maxLength: 64, description: 'container and codecs, e.g. mpegts/h264/aac' }),
    bytes: Type.Integer({ minimum: 0 }),
    sha256: Hex64,
    position: Type.Optional(Fix),
    visitId: Type.Optional(Id),
    salvaged: Type.Optional(Type.Boolean({ description: 'recovered after ffmpeg died mid-chunk' })),
  },
  { $id: 'chunk-meta-fields', additionalProperties: false },
);
export type ChunkMeta = Static<typeof ChunkMeta>;

/** One link of the chain as stored (one line of chain.ndjson). */
export const ChunkRecord = Type.Object(
  { meta: ChunkMeta, prevLink: Hex64, link: Hex64, sig: Signature },
  { $id: 'chunk-record', additionalProperties: false },
);
export type ChunkRecord = Static<typeof ChunkRecord>;

/** Largest payload of one binary part (the device's transport.partBytes and its automatic sizing stay within it; the ingest refuses more). */
export const MAX_PART_BYTES = 128 * 1024;

/** The JSON header sent ahead of a chunk's binary parts. */
export const ChunkHeader = message('chunk-meta', 'Header of one evidence chunk: its chain record and how its bytes are split into binary parts.', {
  meta: ChunkMeta,
  prevLink: Hex64,
  link: Hex64,
  sig: Signature,
  partCount: Type.Integer({ minimum: 1 }),
  partSize: Type.Integer({ minimum: 1, maximum: MAX_PART_BYTES, description: 'payload bytes of every part but the last' }),
});
export type ChunkHeader = Static<typeof ChunkHeader>;

/** A stretch of time with no evidence and why (ffmpeg restart, camera lost, …). */
export const Gap = Type.Object(
  {
    from: Type.Integer({ minimum: 0 }),
    to: Type.Integer({ minimum: 0 }),
    reason: Type.String({ maxLength: 512 }),
  },
  { additionalProperties: false },
);
export type Gap = Static<typeof Gap>;

/** The signed service record of one session: every chunk, every gap, every alarm. */
export const Manifest = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    sessionId: Id,
    visitId: Type.Optional(Id),
    trigger: Type.Union([Type.Literal('visit'), Type.Literal('sos')]),
    startedAt: Type.Integer({ minimum: 0 }),
    endedAt: Type.Integer({ minimum: 0 }),
    chunks: Type.Array(Type.Object({ meta: ChunkMeta, link: Hex64, sig: Signature }, { additionalProperties: false })),
    gaps: Type.Array(Gap),
    alarms: Type.Array(Id),
    lastLink: Hex64,
    sig: Signature,
  },
  { $id: 'manifest', additionalProperties: false },
);
export type Manifest = Static<typeof Manifest>;
export type UnsignedManifest = Omit<Manifest, 'sig'>;

export const MediaManifest = message('media-manifest', 'The signed manifest closing a recording session.', { manifest: Manifest });
export type MediaManifest = Static<typeof MediaManifest>;

export const chunkRecordValidator = new Validator(ChunkRecord);
export const chunkHeaderValidator = new Validator(ChunkHeader);
export const manifestValidator = new Validator(Manifest);

/** JSON with object keys sorted and no whitespace: the byte form that gets hashed. Throws on values JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`canonicalJson: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  throw new Error(`canonicalJson: cannot encode a ${typeof value}`);
}

/** SHA-256 hex of bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The link before chunk 0: bound to device and session so a chain cannot be replayed elsewhere. */
export function genesisLink(deviceId: string, sessionId: string): string {
  return sha256Hex(canonicalJson({ genesis: 'nrec-evidence-v1', deviceId, sessionId }));
}

/** link = SHA-256(raw prevLink ‖ canonicalJson(meta)). */
export function chainLink(prevLink: string, meta: ChunkMeta): string {
  return createHash('sha256').update(Buffer.from(prevLink, 'hex')).update(canonicalJson(meta)).digest('hex');
}

/** The 32 bytes a manifest signature covers: SHA-256 of the canonical manifest without its sig. */
export function manifestDigest(m: UnsignedManifest): Buffer {
  // A signed manifest may be passed as is: its sig is never part of what it signs.
  const rest: Record<string, unknown> = { ...m };
  delete rest.sig;
  return createHash('sha256').update(canonicalJson(rest)).digest();
}

/** True when `sigB64` is a valid Ed25519 signature by `publicKey` over the raw bytes of hex digest `digest`. */
export function verifyDigestSignature(digest: string | Buffer, sigB64: string, publicKey: KeyObject): boolean {
  const data = typeof digest === 'string' ? Buffer.from(digest, 'hex') : digest;
  const sig = Buffer.from(sigB64, 'base64');
  if (sig.length !== 64) return false;
  try {
    return cryptoVerify(null, data, publicKey, sig);
  } catch {
    return false;
  }
}

// ---- binary part framing ---------------------------------------------------
//   'NRP1' | u16 big-endian headerLen | headerLen bytes of JSON PartHeader | raw chunk bytes

export const PART_MAGIC = Buffer.from('NRP1', 'ascii');
/** Headers are a few hundred bytes; the cap stops a forged length from claiming the whole payload. */
export const MAX_PART_HEADER_BYTES = 1024;
const PREFIX_BYTES = PART_MAGIC.length + 2;

export const PartHeader = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    sessionId: Id,
    chunkIndex: Type.Integer({ minimum: 0 }),
    part: Type.Integer({ minimum: 0 }),
    parts: Type.Integer({ minimum: 1 }),
    chunkSha256: Hex64,
  },
  { $id: 'media-part-header', additionalProperties: false },
);
export type PartHeader = Static<typeof PartHeader>;
const partHeaderValidator = new Validator(PartHeader);

export type DecodedPart = { ok: true; header: PartHeader; payload: Buffer } | { ok: false; reason: string };

/** How many parts a chunk of `bytes` needs at `partSize` (an empty chunk still sends one part). */
export function partCount(bytes: number, partSize: number): number {
  if (!Number.isInteger(partSize) || partSize < 1) throw new Error(`partSize ${partSize} must be a positive integer`);
  return Math.max(1, Math.ceil(bytes / partSize));
}

/** Frames one part: fixed prefix, JSON header, raw bytes. */
export function encodePart(header: PartHeader, payload: Uint8Array): Buffer {
  const { frame, payload: room } = allocPart(header, payload.length);
  room.set(payload);
  return frame;
}

/**
 * A part's frame with the prefix and header written and `payloadBytes` of room
 * after them, for the caller to fill in place (the uploader reads the chunk
 * file straight into it: one allocation and no copy per part).
 */
export function allocPart(header: PartHeader, payloadBytes: number): { frame: Buffer; payload: Buffer } {
  const json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  if (jsonBytes > MAX_PART_HEADER_BYTES) throw new Error(`part header is ${jsonBytes} bytes, over ${MAX_PART_HEADER_BYTES}`);
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + jsonBytes + payloadBytes);
  PART_MAGIC.copy(frame, 0);
  frame.writeUInt16BE(jsonBytes, PART_MAGIC.length);
  frame.write(json, PREFIX_BYTES, 'utf8');
  return { frame, payload: frame.subarray(PREFIX_BYTES + jsonBytes) };
}

/** Splits a whole chunk into framed parts of at most `partSize` payload bytes. */
export function splitIntoParts(id: Omit<PartHeader, 'part' | 'parts' | 'v'>, bytes: Buffer, partSize: number): Buffer[] {
  const parts = partCount(bytes.length, partSize);
  const out: Buffer[] = [];
  for (let part = 0; part < parts; part++) {
    out.push(encodePart({ v: 1, ...id, part, parts }, bytes.subarray(part * partSize, (part + 1) * partSize)));
  }
  return out;
}

/** Decodes one framed part; checks lengths before parsing and never throws on garbage. */
export function decodePart(buf: Uint8Array): DecodedPart {
  if (buf.length < PREFIX_BYTES) return { ok: false, reason: `frame is ${buf.length} bytes, shorter than the ${PREFIX_BYTES}-byte prefix` };
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!b.subarray(0, PART_MAGIC.length).equals(PART_MAGIC)) return { ok: false, reason: 'frame does not start with magic NRP1' };
  const headerLen = b.readUInt16BE(PART_MAGIC.length);
  if (headerLen === 0 || headerLen > MAX_PART_HEADER_BYTES) return { ok: false, reason: `header length ${headerLen} is outside 1..${MAX_PART_HEADER_BYTES}` };
  if (PREFIX_BYTES + headerLen > b.length) return { ok: false, reason: `header length ${headerLen} runs past the ${b.length}-byte frame` };
  const parsed = partHeaderValidator.parse(b.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLen));
  if (!parsed.ok) return { ok: false, reason: parsed.errors.join('; ') };
  const header = parsed.value;
  if (header.part >= header.parts) return { ok: false, reason: `part ${header.part} is not below parts ${header.parts}` };
  return { ok: true, header, payload: b.subarray(PREFIX_BYTES + headerLen) };
}
