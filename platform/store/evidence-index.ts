import { createPublicKey } from 'node:crypto';
import { chunkRecordValidator, isValidId, manifestValidator } from '../../protocol/index.js';
import { cleanOptText, cleanText } from './sanitize.js';
import { StoreError } from './types.js';
import type { ChunkIndexInput, ManifestIndexInput } from './views.js';

/*
 * Parameters of the evidence index and key registration statements
 * (write-sql.ts), checked here once for both back-ends. The ingest indexes
 * what its evidence store already holds, so a malformed input is its bug and
 * fails loudly rather than indexing half of something.
 */

/** Parameters of CHUNK_INSERT and VISIT_FROM_CHUNK. */
export function chunkParams(c: ChunkIndexInput): { chunk: unknown[]; visit: unknown[]; key: unknown[] } {
  const v = chunkRecordValidator.check(c.record);
  if (!v.ok) throw new Error(`recordChunk: not a chunk record: ${v.errors.join('; ')}`);
  const m = c.record.meta;
  const key = [m.deviceId, m.sessionId, m.index];
  return {
    key,
    chunk: [...key, m.sha256, m.bytes, cleanText(c.path), c.record.link, m.startTime, m.endTime, c.verified ? 1 : 0, c.storedAt],
    visit: [m.deviceId, m.sessionId, m.visitId ?? null, m.startTime, m.endTime, c.storedAt],
  };
}

/** The error for a chunk index entry that names another link than the stored one. */
export function chunkConflict(backend: 'sqlite' | 'postgres', c: ChunkIndexInput, storedLink: string): StoreError {
  const m = c.record.meta;
  return new StoreError(backend, 'conflict', `chunk ${m.deviceId}/${m.sessionId}/${m.index} is indexed with link ${storedLink.slice(0, 12)}…, not ${c.record.link.slice(0, 12)}… (a fork): nothing indexed`, undefined);
}

/** Parameters of VISIT_FROM_MANIFEST. */
export function manifestParams(i: ManifestIndexInput): unknown[] {
  const v = manifestValidator.check(i.manifest);
  if (!v.ok) throw new Error(`recordManifest: not a manifest: ${v.errors.join('; ')}`);
  if (!['pending', 'verified', 'failed'].includes(i.verification)) throw new Error(`recordManifest: verification "${String(i.verification)}" is not pending, verified or failed`);
  const m = i.manifest;
  return [
    m.deviceId, m.sessionId, m.visitId ?? null, m.trigger, m.startedAt, m.endedAt, i.verification, cleanOptText(i.detail),
    JSON.stringify(m), cleanText(i.path), m.lastLink, m.sig, i.storedAt,
  ];
}

/** A device's public key as SPKI PEM; refuses private keys, other key types and ids that are not ids. */
export function normalizePublicKey(deviceId: string, pem: string): string {
  if (!isValidId(deviceId)) throw new Error(`device id "${deviceId}" is not valid: use 1-64 of [A-Za-z0-9_-]`);
  if (pem.includes('PRIVATE KEY')) throw new Error(`refusing to register a private key for device ${deviceId}: give its public key`);
  let key;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`the key for device ${deviceId} is not a readable public key: ${(err as Error).message}`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the key for device ${deviceId} is ${key.asymmetricKeyType ?? 'of unknown type'}; devices sign with Ed25519`);
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
