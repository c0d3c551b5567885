import pg from 'pg';
import type { Logger } from '../../lib/logger.js';
import { derive, messageRows, rejectedRows, type Derived } from './derive.js';
import { NoChange, postgresError, retryable } from './errors.js';
import { chunkConflict, chunkParams, manifestParams, normalizePublicKey } from './evidence-index.js';
import { migratePostgres } from './migrate.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
import { INSERT_DERIVED, INSERT_MESSAGES, INSERT_REJECTED, TOUCH_DEVICES, messageParam, presenceParam, rejectedParam, withOrder } from './postgres-sql.js';
import { applyStatuses, type PresenceRow } from './presence.js';
import { StoreReader } from './queries.js';
import { NATIVE_JSON, type Row } from './rows.js';
import { StoreError, type AcceptedMessage, type CommitResult, type PlatformStore, type RejectedInput, type SqlOutcome, type SqlRow, type SqlStatement, type SqlValue } from './types.js';
import { TOKEN_INSERT, TOKEN_REVOKE, TOKEN_TOUCH, tokenParams, type ApiTokenRecord } from './tokens.js';
import type { ChunkIndexInput, ManifestIndexInput } from './views.js';
import { CHUNK_GET, CHUNK_INSERT, CHUNK_VERIFY, REGISTER_KEY, VISIT_FROM_CHUNK, VISIT_FROM_MANIFEST } from './write-sql.js';

export interface PostgresStoreOptions {
  /** Connections kept (default 4: commits are one transaction each, reads share the rest). */
  poolSize?: number;
  /** A connection attempt fails after this long (ms, default 10,000). */
  connectTimeoutMs?: number;
  /** A query with no answer after this long fails, and its connection is dropped (ms, default 30,000). */
  queryTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** BIGINT columns (epoch ms, counts) as numbers: every value we store is far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** `?` placeholders as `$1, $2, …` (the shared SQL has no literal question marks). */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** The URL for logs and errors: no password, in the userinfo or as a parameter. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '';
    u.searchParams.delete('password');
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//…@');
  }
}

/**
 * The platform back-end on PostgreSQL through a pg Pool, with the server's
 * default durability (synchronous_commit on: COMMIT returns once the WAL is
 * flushed). A commit is one transaction of five statements whatever its size
 * (messages, devices, derived rows, rejections), with a retry when the server
 * aborted it as a deadlock victim. Concurrent workers are safe: the messages
 * primary key makes a second insert of an id wait for the first
 * transaction and then skip, so exactly one of them derives its rows.
 * When the server goes away a commit rejects; the pool reconnects on the
 * next one once the server is back, without reopening the store.
 */
export class PostgresStore extends StoreReader implements PlatformStore {
  readonly backend = 'postgres' as const;
  readonly location: string;
  protected readonly codec = NATIVE_JSON;
  protected readonly orderColumn = 'n';
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #sql = new Map<string, string>();
  #closed = false;

  private constructor(pool: pg.Pool, location: string, now: () => number) {
    super();
    this.#pool = pool;
    this.location = location;
    this.#now = now;
  }

  /** Connects, applies pending migrations and returns the store; fails naming the URL without its password. */
  static async open(url: string, o: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const location = redactUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      types: TYPES,
      max: o.poolSize ?? 4,
      connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
      query_timeout: o.queryTimeoutMs ?? 30_000,
      application_name: 'nrec',
    });
    // An idle connection the server closed (restart, shutdown) is dropped by the pool; without a listener it would crash the process.
    pool.on('error', (err) => o.logger?.warn({ store: location, err: err.message }, 'platform store: an idle PostgreSQL connection failed; the pool reconnects on demand'));
    try {
      const client = await pool.connect();
      try {
        await migratePostgres(client, POSTGRES_MIGRATIONS, `platform store ${location}`, o.now);
      } finally {
        client.release();
      }
      return new PostgresStore(pool, location, o.now ?? Date.now);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw postgresError(err, location, 'open');
    }
  }

  async commit(accepted: AcceptedMessage[], rejected: RejectedInput[]): Promise<CommitResult> {
    this.#checkOpen();
    if (accepted.length === 0 && rejected.length === 0) return { stored: [] };
    const { rows, slot, source } = messageRows(accepted);
    if (rows.length >= 1_000_000) throw new Error(`store commit: ${rows.length} messages in one batch; at most 999,999`);
    const rejects = rejectedRows(rejected);
    return this.#tx(`commit of ${accepted.length} messages and ${rejected.length} rejections`, async (c) => {
      let isNew: boolean[] = [];
      if (rows.length > 0) {
        const r = await c.query<{ device_id: string; id: string }>({ ...INSERT_MESSAGES, values: [messageParam(rows)] });
        const inserted = new Set(r.rows.map((x) => `${x.device_id}\u0000${x.id}`));
        isNew = rows.map((m) => inserted.has(`${m.device_id}\u0000${m.id}`));
        const fresh = source.filter((_, i) => isNew[i]).map((a) => accepted[a]);
        if (fresh.length > 0) await this.#derived(c, derive(fresh));
      }
      if (rejects.length > 0) await c.query({ ...INSERT_REJECTED, values: [rejectedParam(rejects)] });
      return { stored: slot.map((i) => i >= 0 && isNew[i]) };
    });
  }

  async #derived(c: pg.PoolClient, d: Derived): Promise<void> {
    // Locks the batch's device rows (key order) and returns their presence, which the presence rule reads.
    const touched = await c.query<PresenceRow & { id: string }>({ ...TOUCH_DEVICES, values: [JSON.stringify(withOrder(d.devices))] });
    const presence: Array<PresenceRow & { id: string }> = [];
    for (const current of touched.rows) {
      const statuses = d.statuses.get(current.id);
      if (statuses !== undefined) presence.push({ id: current.id, ...applyStatuses(current, statuses).row });
    }
    const values = ([d.positions, d.events, d.health, d.alarms, d.alarmHistory, d.results] as ReadonlyArray<readonly object[]>).map((rows) => JSON.stringify(withOrder(rows)));
    await c.query({ ...INSERT_DERIVED, values: [...values, presenceParam(presence)] });
  }

  async registerDeviceKey(deviceId: string, publicKeyPem: string): Promise<void> {
    this.#checkOpen();
    const pem = normalizePublicKey(deviceId, publicKeyPem);
    await this.#tx('register a device key', (c) => c.query(this.#text(REGISTER_KEY), [deviceId, pem, this.#now()]));
  }

  async recordChunk(chunk: ChunkIndexInput): Promise<boolean> {
    this.#checkOpen();
    const p = chunkParams(chunk);
    return this.#tx('index a chunk', async (c) => {
      if ((await c.query(this.#text(CHUNK_INSERT), p.chunk)).rowCount === 1) {
        await c.query(this.#text(VISIT_FROM_CHUNK), p.visit);
        return true;
      }
      const stored = (await c.query<{ link: string; verified: boolean }>(`${this.#text(CHUNK_GET)} FOR UPDATE`, p.key)).rows[0];
      if (stored.link !== chunk.record.link) throw chunkConflict('postgres', chunk, stored.link);
      if (chunk.verified && !stored.verified) {
        await c.query(this.#text(CHUNK_VERIFY), [1, ...p.key]);
        return true;
      }
      return false;
    });
  }

  async recordManifest(m: ManifestIndexInput): Promise<boolean> {
    this.#checkOpen();
    const params = manifestParams(m);
    return this.#tx('index a manifest', async (c) => (await c.query(this.#text(VISIT_FROM_MANIFEST), params)).rowCount === 1);
  }

  async transact(statements: readonly SqlStatement[]): Promise<SqlOutcome[] | undefined> {
    this.#checkOpen();
    if (statements.length === 0) return [];
    try {
      return await this.#tx('a platform-state transaction', async (c) => {
        const out: SqlOutcome[] = [];
        for (const s of statements) {
          const r = await c.query(this.#text(s.sql), (s.params ?? []) as SqlValue[]);
          const o = { changes: r.rowCount ?? 0, rows: r.rows as SqlRow[] };
          if (s.mustChange === true && o.changes === 0) throw new NoChange('postgres');
          out.push(o);
        }
        return out;
      });
    } catch (err) {
      if (err instanceof NoChange) return undefined;
      throw err;
    }
  }

  async select(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return this.read(sql, params);
  }

  async createToken(t: Omit<ApiTokenRecord, 'revokedAt' | 'lastUsedAt'>): Promise<void> {
    this.#checkOpen();
    await this.#tx('create an API token', (c) => c.query(this.#text(TOKEN_INSERT), tokenParams(t)));
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    this.#checkOpen();
    return this.#tx('revoke an API token', async (c) => (await c.query(this.#text(TOKEN_REVOKE), [at, id])).rowCount === 1);
  }

  async touchToken(id: string, at: number): Promise<void> {
    this.#checkOpen();
    await this.#tx('note an API token\'s use', (c) => c.query(this.#text(TOKEN_TOUCH), [at, id]));
  }

  /**
   * Runs `fn` in a transaction on one connection; retries (twice) when the
   * server aborted it to break a deadlock. A connection that failed below SQL
   * (closed, timed out) is destroyed rather than returned to the pool.
   */
  async #tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient | undefined;
      let broken: Error | undefined;
      // The server can end a checked-out connection between two queries (shutdown, crash): the pool does
      // not listen then, and an 'error' nobody listens to would end the process. The next query fails anyway.
      const onError = (err: Error) => { broken = err; };
      try {
        client = await this.#pool.connect();
        client.on('error', onError);
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        // A server error leaves the connection usable once rolled back; anything else (closed, timed out, a bug
        // in between) may leave it mid-query: drop it, and the server rolls the transaction back itself.
        if (broken === undefined && (err instanceof pg.DatabaseError || err instanceof StoreError)) await client?.query('ROLLBACK').catch(() => undefined);
        else broken ??= err as Error;
        if (attempt < 3 && retryable(err)) continue;
        throw postgresError(err, this.location, what);
      } finally {
        client?.off('error', onError);
        client?.release(broken);
      }
    }
  }

  #text(sql: string): string {
    let t = this.#sql.get(sql);
    if (t === undefined) {
      t = numbered(sql);
      this.#sql.set(sql, t);
    }
    return t;
  }

  protected async read(sql: string, params: readonly unknown[]): Promise<Row[]> {
    this.#checkOpen();
    try {
      return (await this.#pool.query(this.#text(sql), params as unknown[])).rows as Row[];
    } catch (err) {
      throw postgresError(err, this.location, 'query');
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`platform store ${this.location} is closed`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
