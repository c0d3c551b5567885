import type { Logger } from '../../lib/logger.js';
import type { ApiRole, TokenStore } from '../store/index.js';
import type { RateLimiter } from './rate-limit.js';
import { parseToken, secretMatches } from './tokens.js';

/*
 * Who is asking: the bearer token checked against the store. Failures are
 * counted per client address, and a client past its budget is refused
 * before its token is even parsed, so forged tokens cannot hammer the store.
 * A token's state (revoked, expired) is said only to someone who holds its
 * secret; anyone else learns only that the token is not valid.
 */

export interface AuthContext {
  tokenId: string;
  name: string;
  role: ApiRole;
  expiresAt?: number;
}

export type AuthOutcome =
  | { ok: true; auth: AuthContext }
  | { ok: false; status: 401 | 429; code: 'unauthorized' | 'rate-limited'; message: string; retryAfterS?: number };

const TOUCH_EVERY_MS = 60_000;

export class Authenticator {
  readonly #tokens: TokenStore;
  readonly #failures: RateLimiter;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #touched = new Map<string, number>();

  constructor(o: { tokens: TokenStore; failures: RateLimiter; logger: Logger; now?: () => number }) {
    this.#tokens = o.tokens;
    this.#failures = o.failures;
    this.#logger = o.logger;
    this.#now = o.now ?? Date.now;
  }

  async authenticate(presented: string | undefined, client: string): Promise<AuthOutcome> {
    if (presented === undefined || presented === '') {
      return { ok: false, status: 401, code: 'unauthorized', message: 'no token: send "Authorization: Bearer <token>" (an admin creates one with nrec token create)' };
    }
    if (!this.#failures.allows(client)) {
      const d = this.#failures.take(client);
      return { ok: false, status: 429, code: 'rate-limited', message: 'too many failed authentications from this address', retryAfterS: d.ok ? 1 : d.retryAfterS };
    }
    const fail = (message: string): AuthOutcome => {
      this.#failures.take(client);
      return { ok: false, status: 401, code: 'unauthorized', message };
    };
    const parsed = parseToken(presented);
    if (parsed === undefined) return fail('malformed token: nrec tokens look like nrec_<16 hex>_<43 characters>');
    const record = await this.#tokens.token(parsed.id);
    if (record === undefined || !secretMatches(parsed.secret, record.hash)) return fail('invalid token');
    const now = this.#now();
    if (record.revokedAt !== undefined) return fail(`token "${record.name}" (${record.id}) was revoked at ${new Date(record.revokedAt).toISOString()}`);
    if (record.expiresAt !== undefined && now >= record.expiresAt) return fail(`token "${record.name}" (${record.id}) expired at ${new Date(record.expiresAt).toISOString()}: an admin creates a new one with nrec token create`);
    this.#touch(record.id, now);
    const auth: AuthContext = { tokenId: record.id, name: record.name, role: record.role };
    if (record.expiresAt !== undefined) auth.expiresAt = record.expiresAt;
    return { ok: true, auth };
  }

  /** Re-checks a token an open stream holds (revoked or expired meanwhile: the stream ends). */
  async stillValid(auth: AuthContext): Promise<boolean> {
    const r = await this.#tokens.token(auth.tokenId);
    return r !== undefined && r.revokedAt === undefined && (r.expiresAt === undefined || this.#now() < r.expiresAt);
  }

  #touch(id: string, now: number): void {
    const last = this.#touched.get(id);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    this.#tokens.touchToken(id, now).catch((err: Error) => this.#logger.debug({ err: err.message, tokenId: id }, 'could not note a token\'s use'));
  }
}
