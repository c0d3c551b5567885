import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { openStore, type PlatformStore } from '../store/index.js';

/*
 * What the platform engineer's commands share: one-line errors (exit 2 for
 * usage, 1 for failure), the store from --db or --store, and the API's
 * address and token.
 */

/** Bad usage: exit 2. */
export class UsageError extends Error {}
/** The command could not do its job: exit 1. */
export class Failure extends Error {}

/** Runs a command body, turning errors into one line on stderr and the exit code. */
export async function runCommand(name: string, help: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`nrec ${name}: ${err.message}\n${help.split('\n')[0]}\n`);
      return 2;
    }
    process.stderr.write(`nrec ${name}: ${(err as Error).message.split('\n')[0]}\n`);
    return 1;
  }
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const STORE_OPTIONS = { db: { type: 'string' }, store: { type: 'string' } } as const;

/** The store of --db URL, or <--store DIR>/platform.db (as nrec ingest opens it). */
export async function storeFrom(values: { db?: string; store?: string }): Promise<PlatformStore> {
  const url = values.db ?? (values.store === undefined ? undefined : join(values.store, 'platform.db'));
  if (url === undefined) throw new UsageError('give the store: --db URL (sqlite path or postgres://…) or --store DIR, as nrec ingest has it');
  try {
    return await openStore(url);
  } catch (err) {
    throw new Failure(`cannot open the store: ${(err as Error).message}`);
  }
}

export const API_OPTIONS = { api: { type: 'string' }, 'token-file': { type: 'string' } } as const;

export interface ApiTarget {
  url: string;
  token: string;
}

/**
 * The API (--api, else $NREC_API, else http://127.0.0.1:8080) and the token:
 * from --token-file, else $NREC_TOKEN_FILE, else $NREC_TOKEN. Never from
 * the command line itself, where every user of the machine can read it (ps).
 */
export async function apiFrom(values: { api?: string; 'token-file'?: string }): Promise<ApiTarget> {
  const env = (k: string) => (process.env[k] === '' ? undefined : process.env[k]);
  const url = (values.api ?? env('NREC_API') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--api "${url}" must be an http:// or https:// URL`);
  const file = values['token-file'] ?? env('NREC_TOKEN_FILE');
  let token = file === undefined ? env('NREC_TOKEN') : undefined;
  if (file !== undefined) {
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new UsageError(`cannot read --token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (token === undefined || token === '') throw new UsageError('no API token: give --token-file FILE (or set NREC_TOKEN_FILE or NREC_TOKEN); an admin makes one with nrec token create');
  return { url, token };
}

/** A JSON request to the API; a non-2xx answer becomes a Failure with the API's message. */
export async function apiCall<T>(t: ApiTarget, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(`${t.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${t.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Failure(`cannot reach the API at ${t.url}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is nrec ingest running with --http?)`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const e = parsed as { message?: string; code?: string } | undefined;
    throw new Failure(`${res.status} ${e?.code ?? res.statusText}: ${e?.message ?? text.slice(0, 200)}`);
  }
  return { status: res.status, body: parsed as T };
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: Array<Array<string | number | undefined>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = header.map((_, k) => Math.max(...cells.map((r) => (r[k] ?? '').length)));
  return `${cells.map((r) => r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(widths[k]))).join('  ').trimEnd()).join('\n')}\n`;
}

export const isoOrEmpty = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** "42s", "3m", "2h", "5d": how long ago. */
export function ago(ms: number | undefined): string {
  if (ms === undefined) return '';
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 120) return `${s}s`;
  if (Math.abs(s) < 7200) return `${Math.round(s / 60)}m`;
  if (Math.abs(s) < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
