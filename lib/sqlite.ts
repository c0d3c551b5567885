import Database from 'better-sqlite3';

export type SqliteDb = Database.Database;

export interface OpenSqliteOptions {
  /** FULL survives power loss (each commit fsyncs the WAL); NORMAL only a process crash. Default FULL. */
  synchronous?: 'FULL' | 'NORMAL';
  readonly?: boolean;
  /** What the database is, for error messages ("outbox", "command results"). */
  what?: string;
  /** How long a database another process holds locked while opening is tried again (default 10 s). */
  busyWaitMs?: number;
}

/** True for SQLite's "database is busy/locked" result codes (extended codes included). */
export function isSqliteBusy(code: unknown): boolean {
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (opening is synchronous, as better-sqlite3 is). */
function sleepSync(ms: number): void {
  Atomics.wait(pause, 0, 0, ms);
}

/**
 * Opens (creating if needed) a SQLite database in WAL mode with the given
 * durability. Every SQLite file of ours goes through here, so a database that
 * cannot be opened, or lands on a filesystem without WAL support, fails with
 * its name and path rather than deep in a first query.
 *
 * Switching to WAL can answer "database is locked" at once, without SQLite's
 * busy handler, while another process is creating or recovering the same
 * file (seen when two ingest workers started together on a new store): the
 * open is then tried again for up to `busyWaitMs` (default 10 s). The error
 * thrown keeps SQLite's `code`, so callers can classify it.
 */
export function openSqlite(path: string, o: OpenSqliteOptions = {}): SqliteDb {
  const what = o.what ?? 'database';
  const deadline = Date.now() + (o.busyWaitMs ?? 10_000);
  for (let attempt = 0; ; attempt++) {
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
      if (isSqliteBusy((err as { code?: unknown }).code) && Date.now() < deadline) {
        sleepSync(Math.min(200, 10 * 2 ** attempt));
        continue;
      }
      const code = (err as { code?: unknown }).code;
      throw Object.assign(new Error(`cannot open ${what} "${path}": ${(err as Error).message}`, { cause: err }), typeof code === 'string' ? { code } : {});
    }
  }
}
