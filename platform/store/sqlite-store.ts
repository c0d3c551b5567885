import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite, type SqliteDb } from '../../lib/sqlite.js';
import { derive, messageRows, rejectedRows, type Derived, type MessageRow, type RejectedRow } from './derive.js';
import { NoChange, sqliteError } from './errors.js';
import { chunkConflict, chunkParams, manifestParams, normalizePublicKey } from './evidence-index.js';
import { migrateSqlite } from './migrate.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite.js';
import { applyStatuses, type PresenceRow } from './presence.js';
import { StoreReader } from './queries.js';
import { TEXT_JSON, type Row } from './rows.js';
import type { AcceptedMessage, CommitResult, PlatformStore, RejectedInput, SqlOutcome, SqlRow, SqlStatement, SqlValue } from './types.js';
import { TOKEN_INSERT, TOKEN_REVOKE, TOKEN_TOUCH, tokenParams, type ApiTokenRecord } from './tokens.js';
import type { ChunkIndexInput, ManifestIndexInput } from './views.js';
import {
  ALARM_HISTORY,
  ALARMS,
  CHUNK_GET,
  CHUNK_INSERT,
  CHUNK_VERIFY,
  DEVICE_TOUCH,
  EVENTS,
  HEALTH,
  POSITIONS,
  PRESENCE_COLUMNS,
  PRESENCE_UPDATE,
  REGISTER_KEY,
  RESULTS,
  VISIT_FROM_CHUNK,
  VISIT_FROM_MANIFEST,
  type TableSpec,
} from './write-sql.js';

export interface SqliteStoreOptions {
  /** How long a commit waits for another process's write lock before failing (ms). Default 5000. */
  busyTimeoutMs?: number;
  now?: () => number;
}

type Bindable = string | number | bigint | Buffer | null;

/** A row as better-sqlite3 binds it: booleans as 0/1, the JSON columns as JSON text (a string result too), undefined as NULL. */
function bindable(row: object, json: ReadonlySet<string> = NO_JSON): Record<string, Bindable> {
  const out: Record<string, Bindable> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === undefined || v === null) out[k] = null;
    else if (json.has(k)) out[k] = JSON.stringify(v);
    else if (typeof v === 'boolean') out[k] = v ? 1 : 0;
    else out[k] = v as Bindable;
  }
  return out;
}

const NO_JSON: ReadonlySet<string> = new Set();

function jsonColumns(spec: TableSpec): ReadonlySet<string> {
  return new Set(spec.columns.filter(([, t]) => t === 'jsonb').map(([c]) => c));
}

const JSON_COLUMNS = { events: jsonColumns(EVENTS), health: jsonColumns(HEALTH), alarms: jsonColumns(ALARMS), results: jsonColumns(RESULTS) };

function insertSql(spec: TableSpec): string {
  const cols = spec.columns.map(([c]) => c);
  return `INSERT INTO ${spec.table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')}) ${spec.conflict}`;
}

/**
 * The embedded back-end: one SQLite file in WAL mode with synchronous=FULL,
 * so every commit is fsynced before it resolves (the ingest confirms to
 * devices right after). Each commit is one IMMEDIATE transaction: it takes
 * the write lock up front, so two ingest processes on one file queue for it
 * (busy_timeout) instead of failing half-way. better-sqlite3 is synchronous:
 * a commit holds the event loop for its duration, fsync included.
 */
export class SqliteStore extends StoreReader implements PlatformStore {
  readonly backend = 'sqlite' as const;
  readonly location: string;
  protected readonly codec = TEXT_JSON;
  protected readonly orderColumn = 'rowid';
  readonly #db: SqliteDb;
  readonly #now: () => number;
  readonly #st: ReturnType<typeof prepare>;
  readonly #commitTx: Database.Transaction<(accepted: readonly AcceptedMessage[], rejected: readonly RejectedInput[]) => CommitResult>;
  readonly #reads = new Map<string, Database.Statement>();
  #closed = false;

  private constructor(db: SqliteDb, location: string, now: () => number) {
    super();
    this.#db = db;
    this.location = location;
    this.#now = now;
    this.#st = prepare(db);
    this.#commitTx = db.transaction((accepted, rejected) => this.#apply(accepted, rejected));
  }

  /** Opens (creating if needed) the store at `path` and applies pending migrations. */
  static open(path: string, o: SqliteStoreOptions = {}): SqliteStore {
    const location = resolve(path);
    let db: SqliteDb | undefined;
    try {
      mkdirSync(dirname(location), { recursive: true });
      db = openSqlite(location, { what: 'platform store', synchronous: 'FULL' });
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(o.busyTimeoutMs ?? 5000))}`);
      migrateSqlite(db, SQLITE_MIGRATIONS, `platform store "${location}"`, o.now);
      return new SqliteStore(db, location, o.now ?? Date.now);
    } catch (err) {
      db?.close();
      throw sqliteError(err, location, 'open');
    }
  }

  async commit(accepted: AcceptedMessage[], rejected: RejectedInput[]): Promise<CommitResult> {
    this.#checkOpen();
    if (accepted.length === 0 && rejected.length === 0) return { stored: [] };
    try {
      return this.#commitTx.immediate(accepted, rejected);
    } catch (err) {
      throw sqliteError(err, this.location, `commit of ${accepted.length} messages and ${rejected.length} rejections`);
    }
  }

  #apply(accepted: readonly AcceptedMessage[], rejected: readonly RejectedInput[]): CommitResult {
    const { rows, slot, source } = messageRows(accepted);
    const isNew = rows.map((r: MessageRow) => this.#st.message.run(r).changes === 1);
    const fresh = source.filter((_, i) => isNew[i]).map((a) => accepted[a]);
    if (fresh.length > 0) this.#derived(derive(fresh));
    for (const r of rejectedRows(rejected)) this.#st.rejected.run(bindable(r as RejectedRow));
    return { stored: slot.map((i) => i >= 0 && isNew[i]) };
  }

  #derived(d: Derived): void {
    const st = this.#st;
    for (const dev of d.devices) {
      const current = st.touch.get(dev) as (PresenceRow & { id: string }) | undefined;
      const statuses = d.statuses.get(dev.id);
      if (statuses === undefined || current === undefined) continue;
      const { row } = applyStatuses(current, statuses);
      st.presence.run(...PRESENCE_COLUMNS.map((c) => row[c]), dev.id);
    }
    for (const r of d.positions) st.position.run(bindable(r));
    for (const r of d.events) st.event.run(bindable(r, JSON_COLUMNS.events));
    for (const r of d.health) st.health.run(bindable(r, JSON_COLUMNS.health));
    for (const r of d.alarms) st.alarm.run(bindable(r, JSON_COLUMNS.alarms));
    for (const r of d.alarmHistory) st.alarmHistory.run(bindable(r));
    for (const r of d.results) st.result.run(bindable(r, JSON_COLUMNS.results));
  }

  async registerDeviceKey(deviceId: string, publicKeyPem: string): Promise<void> {
    this.#checkOpen();
    const pem = normalizePublicKey(deviceId, publicKeyPem);
    this.#write('register a device key', () => this.#st.registerKey.run(deviceId, pem, this.#now()));
  }

  async recordChunk(c: ChunkIndexInput): Promise<boolean> {
    this.#checkOpen();
    const p = chunkParams(c);
    return this.#write('index a chunk', () => {
      const st = this.#st;
      if (st.chunkInsert.run(...p.chunk).changes === 1) {
        st.visitFromChunk.run(...p.visit);
        return true;
      }
      const stored = st.chunkGet.get(...p.key) as { link: string; verified: number };
      if (stored.link !== c.record.link) throw chunkConflict('sqlite', c, stored.link);
      if (c.verified && stored.verified !== 1) {
        st.chunkVerify.run(1, ...p.key);
        return true;
      }
      return false;
    });
  }

  async recordManifest(m: ManifestIndexInput): Promise<boolean> {
    this.#checkOpen();
    const params = manifestParams(m);
    return this.#write('index a manifest', () => this.#st.visitFromManifest.run(...params).changes === 1);
  }

  async createToken(t: Omit<ApiTokenRecord, 'revokedAt' | 'lastUsedAt'>): Promise<void> {
    this.#checkOpen();
    this.#write('create an API token', () => this.#db.prepare(TOKEN_INSERT).run(...tokenParams(t)));
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    this.#checkOpen();
    return this.#write('revoke an API token', () => this.#db.prepare(TOKEN_REVOKE).run(at, id).changes === 1);
  }

  async touchToken(id: string, at: number): Promise<void> {
    this.#checkOpen();
    this.#write('note an API token\'s use', () => this.#db.prepare(TOKEN_TOUCH).run(at, id));
  }

  /** One write in its own IMMEDIATE transaction, failures as StoreErrors. */
  #write<T>(what: string, fn: () => T): T {
    try {
      return this.#db.transaction(fn).immediate();
    } catch (err) {
      throw sqliteError(err, this.location, what);
    }
  }

  async transact(statements: readonly SqlStatement[]): Promise<SqlOutcome[] | undefined> {
    this.#checkOpen();
    if (statements.length === 0) return [];
    try {
      return this.#db.transaction(() => statements.map((s) => {
        const st = this.#statement(s.sql);
        const params = (s.params ?? []) as Bindable[];
        let out: SqlOutcome;
        if (st.reader) {
          const rows = st.all(...params) as SqlRow[];
          out = { changes: rows.length, rows };
        } else {
          out = { changes: st.run(...params).changes, rows: [] };
        }
        if (s.mustChange === true && out.changes === 0) throw new NoChange('sqlite');
        return out;
      })).immediate();
    } catch (err) {
      if (err instanceof NoChange) return undefined;
      throw sqliteError(err, this.location, 'a platform-state transaction');
    }
  }

  async select(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return this.read(sql, params);
  }

  protected async read(sql: string, params: readonly unknown[]): Promise<Row[]> {
    this.#checkOpen();
    try {
      return this.#statement(sql).all(...(params as Bindable[])) as Row[];
    } catch (err) {
      throw sqliteError(err, this.location, 'query');
    }
  }

  #statement(sql: string): Database.Statement {
    let st = this.#reads.get(sql);
    if (st === undefined) {
      st = this.#db.prepare(sql);
      this.#reads.set(sql, st);
    }
    return st;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`platform store "${this.location}" is closed`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function prepare(db: SqliteDb) {
  return {
    message: db.prepare<[MessageRow]>('INSERT INTO messages (device_id, id, stream, topic, rx, boot_id, seq, ts, body) VALUES (@device_id, @id, @stream, @topic, @rx, @boot_id, @seq, @ts, @body) ON CONFLICT DO NOTHING'),
    touch: db.prepare(insertSql(DEVICE_TOUCH)),
    presence: db.prepare(PRESENCE_UPDATE),
    position: db.prepare(insertSql(POSITIONS)),
    event: db.prepare(insertSql(EVENTS)),
    health: db.prepare(insertSql(HEALTH)),
    alarm: db.prepare(insertSql(ALARMS)),
    alarmHistory: db.prepare(insertSql(ALARM_HISTORY)),
    result: db.prepare(insertSql(RESULTS)),
    rejected: db.prepare('INSERT INTO rejected (key, rx, topic, device_id, category, detail, msg_id, payload) VALUES (@key, @rx, @topic, @device_id, @category, @detail, @msg_id, @payload) ON CONFLICT DO NOTHING'),
    registerKey: db.prepare(REGISTER_KEY),
    chunkInsert: db.prepare(CHUNK_INSERT),
    chunkGet: db.prepare(CHUNK_GET),
    chunkVerify: db.prepare(CHUNK_VERIFY),
    visitFromChunk: db.prepare(VISIT_FROM_CHUNK),
    visitFromManifest: db.prepare(VISIT_FROM_MANIFEST),
  };
}
