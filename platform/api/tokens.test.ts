import { describe, expect, it } from 'vitest';
import { hashSecret, newToken, parseToken, roleAllows, secretMatches } from './tokens.js';

describe('API tokens', () => {
  it('are nrec_<16 hex id>_<43 base64url secret>, stored as SHA-256 of the secret', () => {
    const t = newToken();
    expect(t.token).toMatch(/^nrec_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const p = parseToken(t.token)!;
    expect(p.id).toBe(t.id);
    expect(t.hash).toBe(hashSecret(p.secret));
    expect(t.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(t.token).not.toContain(t.hash);
    expect(newToken().token).not.toBe(t.token);
  });

  it('match only their own secret', () => {
    const t = newToken();
    const { secret } = parseToken(t.token)!;
    expect(secretMatches(secret, t.hash)).toBe(true);
    expect(secretMatches(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, t.hash)).toBe(false);
    expect(secretMatches(secret, 'not hex')).toBe(false);
  });

  it('refuse anything else before a lookup', () => {
    for (const bad of ['', 'nrec_', 'Bearer x', `nrec_${'g'.repeat(16)}_${'a'.repeat(43)}`, `nrec_${'a'.repeat(16)}_${'a'.repeat(42)}`, `nrec_${'a'.repeat(16)}_${'a'.repeat(43)} `]) expect(parseToken(bad)).toBeUndefined();
  });

  it('order roles viewer < operator < admin', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'operator')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'admin')).toBe(false);
  });
});
