import { newToken, isRole } from '../api/tokens.js';
import { parseSpan, parseTime } from '../api/time-params.js';
import type { ApiTokenRecord, PlatformStore } from '../store/index.js';
import { Failure, UsageError, STORE_OPTIONS, isoOrEmpty, parse, runCommand, storeFrom, table } from './cli-kit.js';
import { TOKEN_HELP as HELP } from './help.js';


export { HELP };

const NAME_RE = /^[\p{L}\p{N} ._@'-]{1,64}$/u;

function active(t: ApiTokenRecord, now: number): boolean {
  return t.revokedAt === undefined && (t.expiresAt === undefined || t.expiresAt > now);
}

async function create(store: PlatformStore, v: { role?: string; name?: string; expires?: string; json?: boolean }): Promise<number> {
  if (v.role === undefined || !isRole(v.role)) throw new UsageError(`--role must be viewer, operator or admin${v.role === undefined ? '' : ` (got "${v.role}")`}`);
  if (v.name === undefined || !NAME_RE.test(v.name)) throw new UsageError('--name NAME is required: 1-64 letters, digits, spaces or ._@\'-');
  const now = Date.now();
  let expiresAt: number | undefined;
  if (v.expires !== undefined) {
    // A span counts forward here ("valid for 90d").
    const span = parseSpan(v.expires);
    const t = span !== undefined ? { ok: true as const, ms: now + span } : parseTime(v.expires);
    if (!t.ok) throw new UsageError(`--expires: ${t.reason}`);
    if (t.ms <= now) throw new UsageError(`--expires ${v.expires} is in the past`);
    expiresAt = t.ms;
  }
  if ((await store.tokens()).some((t) => t.name === v.name && active(t, now))) {
    throw new Failure(`a valid token named "${v.name}" exists already: revoke it first (nrec token revoke "${v.name}") or choose another name`);
  }
  const t = newToken();
  await store.createToken({ id: t.id, name: v.name, role: v.role, hash: t.hash, createdAt: now, ...(expiresAt !== undefined ? { expiresAt } : {}) });
  if (v.json) process.stdout.write(`${JSON.stringify({ id: t.id, name: v.name, role: v.role, token: t.token, ...(expiresAt !== undefined ? { expiresAt } : {}) })}\n`);
  else process.stdout.write(`${t.token}\n`);
  process.stderr.write(`token ${t.id} "${v.name}" (${v.role}${expiresAt !== undefined ? `, expires ${isoOrEmpty(expiresAt)}` : ''}) created: it is shown only this once\n`);
  return 0;
}

async function list(store: PlatformStore, json: boolean): Promise<number> {
  const now = Date.now();
  const tokens = (await store.tokens()).map(({ hash: _h, ...t }) => ({ ...t, state: t.revokedAt !== undefined ? 'revoked' : t.expiresAt !== undefined && t.expiresAt <= now ? 'expired' : 'valid' }));
  if (json) {
    process.stdout.write(`${JSON.stringify(tokens)}\n`);
    return 0;
  }
  process.stdout.write(table(['ID', 'NAME', 'ROLE', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'],
    tokens.map((t) => [t.id, t.name, t.role, t.state, isoOrEmpty(t.createdAt), isoOrEmpty(t.expiresAt), isoOrEmpty(t.lastUsedAt)])));
  return 0;
}

async function revoke(store: PlatformStore, which: string | undefined): Promise<number> {
  if (which === undefined) throw new UsageError('revoke needs the token\'s id or name');
  const now = Date.now();
  const all = await store.tokens();
  const byId = all.find((t) => t.id === which);
  const byName = all.filter((t) => t.name === which && t.revokedAt === undefined);
  const target = byId ?? (byName.length === 1 ? byName[0] : undefined);
  if (target === undefined) {
    if (byName.length > 1) throw new Failure(`${byName.length} tokens are named "${which}": revoke by id (${byName.map((t) => t.id).join(', ')})`);
    throw new Failure(`no token with id or name "${which}" (nrec token list shows them)`);
  }
  if (!(await store.revokeToken(target.id, now))) {
    process.stdout.write(`token ${target.id} "${target.name}" was revoked already (${isoOrEmpty(target.revokedAt)})\n`);
    return 0;
  }
  process.stdout.write(`revoked token ${target.id} "${target.name}" (${target.role}); requests with it are refused from now on\n`);
  return 0;
}

/** `nrec token create|list|revoke`. */
export async function main(argv: string[]): Promise<number> {
  return runCommand('token', HELP, async () => {
    const { values, positionals } = parse(argv, {
      ...STORE_OPTIONS, role: { type: 'string' }, name: { type: 'string' }, expires: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const [sub, ...rest] = positionals;
    if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') throw new UsageError(sub === undefined ? 'say create, list or revoke' : `unknown subcommand "${sub}": create, list or revoke`);
    if (rest.length > (sub === 'revoke' ? 1 : 0)) throw new UsageError(`unexpected argument "${rest[sub === 'revoke' ? 1 : 0]}"`);
    const store = await storeFrom(values);
    try {
      if (sub === 'create') return await create(store, values);
      if (sub === 'list') return await list(store, values.json);
      return await revoke(store, rest[0]);
    } finally {
      await store.close();
    }
  });
}
