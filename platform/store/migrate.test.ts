import { describe, expect, it } from 'vitest';
import { checkMigrations, pending, type Migration } from './migrate.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite.js';

const m = (version: number): Migration => ({ version, name: `m${version}`, sql: 'SELECT 1' });

describe('migration lists', () => {
  it('are numbered 1, 2, 3, … on both back-ends, with the same versions and names', () => {
    checkMigrations(SQLITE_MIGRATIONS);
    checkMigrations(POSTGRES_MIGRATIONS);
    expect(SQLITE_MIGRATIONS.map((x) => [x.version, x.name])).toEqual(POSTGRES_MIGRATIONS.map((x) => [x.version, x.name]));
    expect(() => checkMigrations([m(1), m(3)])).toThrow(/#1 has version 3/);
  });

  it('apply what is missing and refuse a database ahead of the code', () => {
    expect(pending([1], [m(1), m(2), m(3)], 'db').map((x) => x.version)).toEqual([2, 3]);
    expect(pending([], [m(1)], 'db').map((x) => x.version)).toEqual([1]);
    expect(() => pending([1, 2, 3, 4], [m(1), m(2)], 'store x')).toThrow(/store x has schema version 4, but this nrec knows versions up to 2/);
  });
});
