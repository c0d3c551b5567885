import type { Row } from './rows.js';

/*
 * API bearer tokens as the store keeps them: never the token itself, only
 * the SHA-256 of its secret part (platform/api/tokens.ts makes and checks
 * them). The SQL is common to both back-ends (`?` placeholders).
 */

export type ApiRole = 'viewer' | 'operator' | 'admin';

export interface ApiTokenRecord {
  /** The token's public id (also embedded in the token, so a lookup needs no secret). */
  id: string;
  /** Who or what holds it (a person, "console-ward-3"): recorded as who acknowledged or commanded. */
  name: string;
  role: ApiRole;
  /** SHA-256 (hex) of the token's secret part. */
  hash: string;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  /** Updated at most once a minute per token (a write per request would cost an fsync each). */
  lastUsedAt?: number;
}

/** What the API and `nrec token` need of a store. */
export interface TokenStore {
  createToken(t: Omit<ApiTokenRecord, 'revokedAt' | 'lastUsedAt'>): Promise<void>;
  token(id: string): Promise<ApiTokenRecord | undefined>;
  /** Every token, oldest first (revoked and expired ones too: they are the record of who had access). */
  tokens(): Promise<ApiTokenRecord[]>;
  /** Marks a token revoked; false when there is no such token or it was revoked already. */
  revokeToken(id: string, at: number): Promise<boolean>;
  touchToken(id: string, at: number): Promise<void>;
}

export const TOKEN_INSERT = 'INSERT INTO api_tokens (id, name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)';
export const TOKEN_GET = 'SELECT * FROM api_tokens WHERE id = ?';
export const TOKEN_LIST = 'SELECT * FROM api_tokens ORDER BY created_at, id';
export const TOKEN_REVOKE = 'UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL';
export const TOKEN_TOUCH = 'UPDATE api_tokens SET last_used_at = ? WHERE id = ?';

export function tokenParams(t: Omit<ApiTokenRecord, 'revokedAt' | 'lastUsedAt'>): Array<string | number | null> {
  return [t.id, t.name, t.role, t.hash, t.createdAt, t.expiresAt ?? null];
}

export function toToken(r: Row): ApiTokenRecord {
  const out: ApiTokenRecord = { id: String(r.id), name: String(r.name), role: String(r.role) as ApiRole, hash: String(r.hash), createdAt: Number(r.created_at) };
  if (r.expires_at !== null && r.expires_at !== undefined) out.expiresAt = Number(r.expires_at);
  if (r.revoked_at !== null && r.revoked_at !== undefined) out.revokedAt = Number(r.revoked_at);
  if (r.last_used_at !== null && r.last_used_at !== undefined) out.lastUsedAt = Number(r.last_used_at);
  return out;
}
