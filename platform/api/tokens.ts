import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiRole } from '../store/index.js';

/*
 * API bearer tokens: `nrec_<id>_<secret>`, id 8 random bytes (16 hex digits,
 * public: it names the token in lists and logs), secret 32 random bytes
 * (43 base64url characters). The store keeps only SHA-256(secret); a 256-bit
 * random secret needs no slow hash, since nobody can guess it from its hash.
 */

const TOKEN_RE = /^nrec_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export const ROLE_RANK: Record<ApiRole, number> = { viewer: 0, operator: 1, admin: 2 };

export function isRole(s: string): s is ApiRole {
  return Object.hasOwn(ROLE_RANK, s);
}

/** True when `have` is at least `need` (viewer < operator < admin). */
export function roleAllows(have: ApiRole, need: ApiRole): boolean {
  return ROLE_RANK[have] >= ROLE_RANK[need];
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new token and what the store keeps of it. */
export function newToken(random: (n: number) => Buffer = randomBytes): { token: string; id: string; hash: string } {
  const id = random(8).toString('hex');
  const secret = random(32).toString('base64url');
  return { token: `nrec_${id}_${secret}`, id, hash: hashSecret(secret) };
}

/** The id and secret of a well-formed token, or undefined (then nothing needs looking up). */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m === null ? undefined : { id: m[1], secret: m[2] };
}

/** Whether `secret` hashes to `storedHash`, in time independent of where they differ. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
