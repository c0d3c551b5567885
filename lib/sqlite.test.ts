import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../test/support/temp.js';

const compiled = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'lib', 'sqlite.js');

// Each child waits for the same wall-clock moment, then opens the same new file and writes to it.
const CHILD = `
const [T, path, lib] = process.argv.slice(1);
const { openSqlite } = await import(lib);
while (Date.now() < Number(T)) {}
try {
  const db = openSqlite(path);
  db.exec('CREATE TABLE IF NOT EXISTS m (v)');
  db.close();
  console.log('ok');
} catch (e) {
  console.log('FAIL ' + e.message + ' ' + (e.code ?? ''));
}`;

let dirs: TempDir[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

describe('openSqlite', () => {
  // Two ingest workers started together on a new store: one exited with "database is locked"
  // (a fresh clone's CI run). Converting a new file to WAL from two processes at once can be
  // refused without SQLite's busy handler (it would deadlock); measured on the old open: 13 of
  // 160 opens failed, 4 processes at a time.
  it('opens a new database from several processes at the same moment: every one of them succeeds', async () => {
    if (!existsSync(compiled)) throw new Error(`${compiled} not found: run "npm run build" first (npm test does)`);
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 25; round++) {
      const dir = await makeTempDir('nrec-sqlite-open-');
      dirs.push(dir);
      const at = Date.now() + 400;
      const outs = await Promise.all(Array.from({ length: 4 }, () => new Promise<string>((resolve) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', CHILD, String(at), dir.file('store.db'), compiled]);
        let out = '';
        c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
        c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
        c.on('close', () => resolve(out.trim()));
      })));
      for (const o of outs) outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    }
    expect([...outcomes]).toEqual([['ok', 100]]);
  }, 60_000);
});
