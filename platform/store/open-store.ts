import type { Logger } from '../../lib/logger.js';
import { PostgresStore, redactUrl } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { PlatformStore } from './types.js';

export interface OpenStoreOptions {
  logger?: Logger;
  now?: () => number;
  /** SQLite: how long a commit waits for another process's write lock (ms, default 5000). */
  busyTimeoutMs?: number;
  /** PostgreSQL: pool size (default 4). */
  poolSize?: number;
}

export type StoreTarget = { backend: 'sqlite'; path: string } | { backend: 'postgres'; url: string };

/**
 * What a store URL names: `postgres://…` or `postgresql://…` is PostgreSQL;
 * `sqlite:/path/file.db`, `sqlite:///path/file.db`, `sqlite:relative.db` or a
 * plain path is a SQLite file. Any other scheme is refused (showing only the
 * scheme, never the rest, which may hold a password).
 */
export function parseStoreUrl(url: string): StoreTarget {
  const s = url.trim();
  if (s === '') throw new Error('store URL is empty: give a SQLite path (sqlite:/var/lib/nrec/store.db) or postgres://user@host/db');
  if (/^postgres(ql)?:\/\//i.test(s)) return { backend: 'postgres', url: s };
  const sqlite = /^sqlite:(.*)$/i.exec(s);
  if (sqlite !== null) {
    const path = sqlite[1].startsWith('//') ? sqlite[1].slice(2) : sqlite[1];
    if (path === '') throw new Error(`store URL "${s}" names no file: use sqlite:/path/to/store.db`);
    return { backend: 'sqlite', path };
  }
  // Two letters at least, so a Windows drive (C:\…) still reads as a path.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(s);
  if (scheme !== null) throw new Error(`store URL scheme "${scheme[1]}:" is not supported: use sqlite:/path/file.db, a plain path, or postgres://…`);
  return { backend: 'sqlite', path: s };
}

/** Where a store URL points, safe to log. */
export function describeStoreUrl(url: string): string {
  const t = parseStoreUrl(url);
  return t.backend === 'sqlite' ? `sqlite:${t.path}` : redactUrl(t.url);
}

/** Opens the store a URL names and applies pending migrations. */
export async function openStore(url: string, o: OpenStoreOptions = {}): Promise<PlatformStore> {
  const t = parseStoreUrl(url);
  if (t.backend === 'postgres') return PostgresStore.open(t.url, { logger: o.logger, now: o.now, poolSize: o.poolSize });
  return SqliteStore.open(t.path, { now: o.now, busyTimeoutMs: o.busyTimeoutMs });
}
