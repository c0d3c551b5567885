import type { KeyObject } from 'node:crypto';
import { chainLink, genesisLink, sha256Hex, verifyDigestSignature, type ChunkRecord } from '../../../protocol/media.js';

/** The last stored link of a session's chain. */
export interface ChainTip {
  index: number;
  link: string;
}

export type RecordCheck = { ok: true } | { ok: false; reason: string };

/** Checks a record on its own: its link is the hash of prevLink and meta, and the device signed that link. */
export function checkRecord(record: ChunkRecord, publicKey: KeyObject): RecordCheck {
  const m = record.meta;
  const where = `chunk ${m.deviceId}/${m.sessionId}/${m.index}`;
  const expected = chainLink(record.prevLink, m);
  if (record.link !== expected) return { ok: false, reason: `${where}: link ${record.link.slice(0, 12)}… is not H(prevLink ‖ meta) ${expected.slice(0, 12)}…` };
  if (!verifyDigestSignature(record.link, record.sig, publicKey)) return { ok: false, reason: `${where}: signature does not verify with the device's registered key` };
  return { ok: true };
}

/** Checks assembled bytes against the record: size and SHA-256. */
export function checkBytes(record: ChunkRecord, bytes: Uint8Array): RecordCheck {
  const m = record.meta;
  const where = `chunk ${m.deviceId}/${m.sessionId}/${m.index}`;
  if (bytes.length !== m.bytes) return { ok: false, reason: `${where}: ${bytes.length} bytes arrived, meta says ${m.bytes}` };
  const sha = sha256Hex(bytes);
  if (sha !== m.sha256) return { ok: false, reason: `${where}: sha256 of the bytes ${sha.slice(0, 12)}… differs from meta ${m.sha256.slice(0, 12)}…` };
  return { ok: true };
}

export type Continuity = 'next' | 'ahead' | 'behind' | 'broken';

/**
 * Where a record sits relative to the stored chain: `next` continues it,
 * `ahead` waits for earlier chunks, `behind` is at or before the tip (a
 * duplicate, or a fork if its link differs), `broken` claims to continue the
 * tip but names another previous link.
 */
export function continuity(record: ChunkRecord, tip: ChainTip | undefined): { kind: Continuity; reason?: string } {
  const m = record.meta;
  const where = `chunk ${m.deviceId}/${m.sessionId}/${m.index}`;
  const nextIndex = tip === undefined ? 0 : tip.index + 1;
  const prev = tip === undefined ? genesisLink(m.deviceId, m.sessionId) : tip.link;
  if (m.index > nextIndex) return { kind: 'ahead', reason: `${where}: waiting for chunk ${nextIndex}` };
  if (m.index < nextIndex) return { kind: 'behind' };
  if (record.prevLink !== prev) {
    return { kind: 'broken', reason: `${where}: prevLink ${record.prevLink.slice(0, 12)}… does not continue the chain (${m.index === 0 ? 'genesis' : `link of chunk ${m.index - 1}`} is ${prev.slice(0, 12)}…)` };
  }
  return { kind: 'next' };
}
