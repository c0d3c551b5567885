import type { PoolClient } from 'pg';
import type { SqliteDb } from '../../lib/sqlite.js';

/** One schema change. Versions start at 1, ascend by one, and are never reused or edited once released. */
export interface Migration {
  version: number;
  /** What it adds, for schema_migrations and logs. */
  name: string;
  /** One or more statements in the back-end's dialect. */
  sql: string;
}

/** Checks a migration list is well formed (1, 2, 3, … with names); throws naming the first fault. */
export function checkMigrations(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i} has version ${m.version}; versions must be 1, 2, 3, … in order`);
    if (m.name.trim() === '' || m.sql.trim() === '') throw new Error(`migration ${m.version} needs a name and SQL`);
  });
}

/** The migrations not applied yet; refuses a database that is ahead of this code (a newer nrec migrated it). */
export function pending(applied: readonly number[], list: readonly Migration[], where: string): Migration[] {
  const known = list.length;
  const ahead = applied.filter((v) => v > known);
  if (ahead.length > 0) {
    throw new Error(`${where} has schema version ${Math.max(...ahead)}, but this nrec knows versions up to ${known}: run a newer nrec against it`);
  }
  const done = new Set(applied);
  return list.filter((m) => !done.has(m.version));
}

const CREATE_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';

/**
 * Applies what is pending in one IMMEDIATE transaction: it takes the write
 * lock before reading schema_migrations, so a second process starting at the
 * same moment waits (busy_timeout) and then finds everything applied.
 * Returns the versions it applied.
 */
export function migrateSqlite(db: SqliteDb, list: readonly Migration[], where: string, now: () => number = Date.now): number[] {
  checkMigrations(list);
  const run = db.transaction(() => {
    db.exec(CREATE_TABLE);
    const applied = (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version);
    const todo = pending(applied, list, where);
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of todo) {
      db.exec(m.sql);
      record.run(m.version, m.name, now());
    }
    return todo.map((m) => m.version);
  });
  return run.immediate();
}

/** Any fixed 64-bit key, the same in every nrec: it names the lock "nrec store migrations". */
const MIGRATION_LOCK = 7_290_501_117_364_211;

/**
 * Applies what is pending in one transaction holding a transaction-scoped
 * advisory lock: a second worker starting at the same moment blocks on the
 * lock, then finds everything applied (PostgreSQL's DDL is transactional, so a
 * failed migration leaves nothing behind). Returns the versions it applied.
 */
export async function migratePostgres(client: PoolClient, list: readonly Migration[], where: string, now: () => number = Date.now): Promise<number[]> {
  checkMigrations(list);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(CREATE_TABLE);
    const applied = (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version));
    const todo = pending(applied, list, where);
    for (const m of todo) {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
    }
    await client.query('COMMIT');
    return todo.map((m) => m.version);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
