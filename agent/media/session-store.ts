import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';
import type { ChunkRecord, Gap } from '../../protocol/media.js';
import type { OpenSession } from './mode.js';

/** An evidence session a previous run left open, as stored. */
export interface StoredSession {
  state: OpenSession;
  records: Array<{ record: ChunkRecord; path: string }>;
  gaps: Gap[];
  /** Set once the session has ended: its manifest is made (again, identically) from what is stored here until the outbox holds it. */
  endedAt?: number;
}

/**
 * The open evidence session on disk (SQLite, WAL, synchronous FULL), so that
 * a power cut or a crash in the middle of a visit does not orphan it: the next
 * start carries on with the same session (same chain, one more gap) and it
 * still ends with a signed manifest. Written at every step that changes what
 * the manifest will say: the session's state (end time, alarms), each chunk's
 * chain record as it is committed, each gap. When the session ends it is marked
 * ended, and removed only once its manifest is committed to the outbox: until
 * then the manifest can be rebuilt from here (Ed25519 signatures are
 * deterministic, so the rebuilt manifest is the same one).
 */
export class SessionStore {
  readonly #db: Database.Database;
  readonly #st;

  constructor(dbPath: string) {
    this.#db = openSqlite(dbPath, { what: 'evidence session store' });
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS records (session_id TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (session_id, idx));
      CREATE TABLE IF NOT EXISTS gaps (session_id TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, gap TEXT NOT NULL);`);
    const columns = this.#db.prepare<[], { name: string }>('PRAGMA table_info(sessions)').all().map((c) => c.name);
    if (!columns.includes('ended_at')) this.#db.exec('ALTER TABLE sessions ADD COLUMN ended_at INTEGER');
    this.#st = {
      saveState: this.#db.prepare<[string, string]>('INSERT INTO sessions (id, state) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state'),
      addRecord: this.#db.prepare<[string, number, string, string]>('INSERT INTO records (session_id, idx, record, path) VALUES (?, ?, ?, ?)'),
      addGap: this.#db.prepare<[string, string]>('INSERT INTO gaps (session_id, gap) VALUES (?, ?)'),
      sessions: this.#db.prepare<[], { id: string; state: string; ended_at: number | null }>('SELECT id, state, ended_at FROM sessions ORDER BY rowid'),
      markEnded: this.#db.prepare<[number, string]>('UPDATE sessions SET ended_at = ? WHERE id = ?'),
      records: this.#db.prepare<[string], { record: string; path: string }>('SELECT record, path FROM records WHERE session_id = ? ORDER BY idx'),
      gaps: this.#db.prepare<[string], { gap: string }>('SELECT gap FROM gaps WHERE session_id = ? ORDER BY seq'),
    };
  }

  /** Sessions left open by an earlier run, oldest first. */
  load(): StoredSession[] {
    return this.#st.sessions.all().map((s) => ({
      state: JSON.parse(s.state) as OpenSession,
      records: this.#st.records.all(s.id).map((r) => ({ record: JSON.parse(r.record) as ChunkRecord, path: r.path })),
      gaps: this.#st.gaps.all(s.id).map((g) => JSON.parse(g.gap) as Gap),
      ...(s.ended_at === null ? {} : { endedAt: s.ended_at }),
    }));
  }

  /** The session ended at `endedAt`: nothing more joins it; it stays until `remove` (its manifest committed). */
  markEnded(sessionId: string, endedAt: number): void {
    this.#st.markEnded.run(endedAt, sessionId);
  }

  saveState(state: OpenSession): void {
    this.#st.saveState.run(state.sessionId, JSON.stringify(state));
  }

  addRecord(record: ChunkRecord, path: string): void {
    this.#st.addRecord.run(record.meta.sessionId, record.meta.index, JSON.stringify(record), path);
  }

  addGap(sessionId: string, gap: Gap): void {
    this.#st.addGap.run(sessionId, JSON.stringify(gap));
  }

  /** The session's manifest is committed to the outbox: nothing of it is needed any more. */
  remove(sessionId: string): void {
    this.#db.transaction(() => {
      for (const t of ['sessions', 'records', 'gaps']) this.#db.prepare(`DELETE FROM ${t} WHERE ${t === 'sessions' ? 'id' : 'session_id'} = ?`).run(sessionId);
    })();
  }

  close(): void {
    this.#db.close();
  }
}
