import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { isSqliteBusy } from '../../lib/sqlite.js';
import { StoreError, type StoreFailure } from './types.js';

/*
 * Driver errors as StoreErrors: a kind the ingest can branch on (stop
 * acknowledging and say why) and a message that names the store and what
 * failed. Classification is by code only: SQLite's extended result code,
 * PostgreSQL's SQLSTATE, Node's errno; a pg error that is not a server
 * DatabaseError came from the connection itself (closed, refused, timed out).
 */

function sqliteKind(code: string | undefined): StoreFailure {
  if (code === undefined) return 'other';
  if (code === 'SQLITE_FULL') return 'full';
  if (code.startsWith('SQLITE_READONLY')) return 'read-only';
  if (isSqliteBusy(code)) return 'busy';
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'io';
  if (code.startsWith('SQLITE_CANTOPEN')) return 'unavailable';
  if (code.startsWith('SQLITE_CONSTRAINT')) return 'conflict';
  return 'other';
}

const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EAI_AGAIN']);

function postgresKind(err: unknown): StoreFailure {
  const code = (err as { code?: unknown }).code;
  if (!(err instanceof pg.DatabaseError)) return typeof code === 'string' && !NET_CODES.has(code) ? 'other' : 'unavailable';
  if (typeof code !== 'string') return 'other';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return 'unavailable';
  if (code === '53100') return 'full';
  if (code === '25006') return 'read-only';
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') return 'busy';
  if (code === 'XX001' || code === 'XX002' || code === '58030') return 'io';
  if (code.startsWith('23')) return 'conflict';
  return 'other';
}

/**
 * What the file system says when asked to write beside the database: an
 * I/O error from SQLite hides the errno, and a file system that failed and
 * went read-only (ext4 errors=remount-ro) still passes access(W_OK), so a
 * small file is created, written and removed. Only run after a failure.
 */
function probeWrite(path: string): string | undefined {
  const probe = join(dirname(path), `.nrec-store-probe-${process.pid}`);
  try {
    const fd = openSync(probe, 'w');
    try {
      writeSync(fd, 'x');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      rmSync(probe, { force: true });
    }
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'unknown';
  }
}

const PROBE_HINT: Record<string, [StoreFailure, string]> = {
  EROFS: ['read-only', 'the file system is read-only'],
  EACCES: ['read-only', 'the directory is not writable'],
  EPERM: ['read-only', 'the directory is not writable'],
  ENOSPC: ['full', 'the file system is full'],
  EDQUOT: ['full', 'the disk quota is exhausted'],
  EIO: ['io', 'the disk reports I/O errors'],
};

export function sqliteError(err: unknown, location: string, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const c = typeof code === 'string' ? code : undefined;
  let kind = sqliteKind(c);
  let hint = '';
  if (kind === 'read-only' || kind === 'io' || kind === 'unavailable' || kind === 'full') {
    const errno = probeWrite(location);
    if (errno !== undefined) {
      const [k, why] = PROBE_HINT[errno] ?? [kind, 'it cannot be written'];
      kind = k;
      hint = `; writing in "${dirname(location)}" fails with ${errno}: ${why}`;
    }
  }
  return new StoreError('sqlite', kind, `platform store "${location}" (sqlite): ${what} failed (${c ?? kind}): ${(err as Error).message}${hint}`, c, err);
}

export function postgresError(err: unknown, location: string, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const c = typeof code === 'string' ? code : undefined;
  const kind = postgresKind(err);
  return new StoreError('postgres', kind, `platform store ${location} (postgres): ${what} failed (${c ?? kind}): ${(err as Error).message}`, c, err);
}

/** Worth one more try in a fresh transaction: the database chose to abort ours (deadlock, serialization). */
export function retryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return err instanceof pg.DatabaseError && (code === '40P01' || code === '40001');
}

/** Thrown inside a transaction when a compare-and-set statement changed nothing: rolls it back; `transact` resolves undefined. */
export class NoChange extends StoreError {
  constructor(backend: 'sqlite' | 'postgres') {
    super(backend, 'conflict', 'a compare-and-set changed nothing', undefined);
  }
}
