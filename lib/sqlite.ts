import Database from 'better-sqlite3';

export type SqliteDb = Database.Database;

export interface OpenSqliteOptions {
  /** FULL survives power loss (each commit fsyncs the WAL); NORMAL only a process crash. Default FULL. */
  synchronous?: 'FULL' | 'NORMAL';
  readonly?: boolean;
  /** What the database is, for error messages ("outbox", "command results"). */
  what?: string;
}

/**
 * Opens (creating if needed) a SQLite database in WAL mode with the given
 * durability. Every SQLite file of ours goes through here, so a database that
 * cannot be opened, or lands on a filesystem without WAL support, fails with
 * its name and path rather than deep in a first query.
 */
export function openSqlite(path: string, o: OpenSqliteOptions = {}): SqliteDb {
  const what = o.what ?? 'database';
  let db: SqliteDb | undefined;
  try {
    db = new Database(path, o.readonly ? { readonly: true, fileMustExist: true } : {});
    if (!o.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode is "${String(mode)}", not wal`);
      db.pragma(`synchronous = ${o.synchronous ?? 'FULL'}`);
    }
    return db;
  } catch (err) {
    db?.close();
    throw new Error(`cannot open ${what} "${path}": ${(err as Error).message}`, { cause: err });
  }
}
