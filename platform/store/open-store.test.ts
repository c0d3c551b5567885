import { describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { describeStoreUrl, openStore, parseStoreUrl } from './open-store.js';
import { redactUrl } from './postgres-store.js';
import { StoreError } from './types.js';

describe('store URLs', () => {
  it('reads SQLite paths and PostgreSQL URLs, and refuses other schemes', () => {
    expect(parseStoreUrl('sqlite:/var/lib/nrec/store.db')).toEqual({ backend: 'sqlite', path: '/var/lib/nrec/store.db' });
    expect(parseStoreUrl('sqlite:///var/lib/nrec/store.db')).toEqual({ backend: 'sqlite', path: '/var/lib/nrec/store.db' });
    expect(parseStoreUrl('sqlite:data/store.db')).toEqual({ backend: 'sqlite', path: 'data/store.db' });
    expect(parseStoreUrl('/srv/store.db')).toEqual({ backend: 'sqlite', path: '/srv/store.db' });
    expect(parseStoreUrl('store.db')).toEqual({ backend: 'sqlite', path: 'store.db' });
    expect(parseStoreUrl('postgres://u:p@db/nrec')).toEqual({ backend: 'postgres', url: 'postgres://u:p@db/nrec' });
    expect(parseStoreUrl('PostgreSQL://db/nrec').backend).toBe('postgres');
    expect(() => parseStoreUrl('mysql://root:hunter2@db/nrec')).toThrow(/scheme "mysql:" is not supported/);
    expect(() => parseStoreUrl('mysql://root:hunter2@db/nrec')).not.toThrow(/hunter2/);
    expect(() => parseStoreUrl('sqlite:')).toThrow(/names no file/);
    expect(() => parseStoreUrl('  ')).toThrow(/empty/);
  });

  it('never shows a password', () => {
    expect(redactUrl('postgres://nrec:s3cret@db.example:5432/nrec?sslmode=require')).toBe('postgres://nrec@db.example:5432/nrec?sslmode=require');
    expect(redactUrl('postgresql://db/nrec?user=nrec&password=s3cret')).not.toContain('s3cret');
    expect(redactUrl('postgres://nrec:s3%20cret@[::1]/nrec')).not.toMatch(/s3/);
    expect(describeStoreUrl('postgres://nrec:s3cret@db/nrec')).toBe('postgres://nrec@db/nrec');
    expect(describeStoreUrl('sqlite:/x.db')).toBe('sqlite:/x.db');
  });

  it('fails to open an unreachable PostgreSQL with kind "unavailable" and no password in the error', async () => {
    const port = await freePort();
    const err = await openStore(`postgres://nrec:s3cret@127.0.0.1:${port}/nrec`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe('unavailable');
    expect((err as StoreError).code).toBe('ECONNREFUSED');
    expect((err as Error).message).toContain(`postgres://nrec@127.0.0.1:${port}/nrec`);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain('s3cret');
    expect(String((err as Error).stack)).not.toContain('s3cret');
  });
});
