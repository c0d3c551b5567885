import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { tarGz } from './tar.js';

// The archive checked by the system's tar (GNU tar on Debian), the reader a person would use.
describe('tarGz', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes files that tar lists and extracts byte for byte, long names included', async () => {
    const long = `${'d'.repeat(64)}-${'s'.repeat(64)}/evidence/${'d'.repeat(64)}/${'s'.repeat(64)}/chunk-000001.ts`;
    const entries = [
      { name: 'a/chain.ndjson', body: Buffer.from('{"x":1}\n'), mtime: Date.UTC(2026, 0, 5) },
      { name: 'a/empty', body: Buffer.alloc(0), mtime: Date.UTC(2026, 0, 5) },
      { name: 'a/block', body: Buffer.alloc(512, 7), mtime: Date.UTC(2026, 0, 5) },
      { name: long, body: Buffer.from(Array.from({ length: 70_001 }, (_, i) => i % 251)), mtime: Date.UTC(2026, 0, 5) },
    ];
    const gz = await buffer(tarGz(entries));
    const dir = mkdtempSync(join(tmpdir(), 'nrec-tar-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'x.tar.gz'), gz);
    const listed = execFileSync('tar', ['tzf', join(dir, 'x.tar.gz')], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(entries.map((e) => e.name));
    execFileSync('tar', ['xzf', join(dir, 'x.tar.gz'), '-C', dir]);
    for (const e of entries) expect(readFileSync(join(dir, e.name)).equals(e.body), e.name).toBe(true);
    const verbose = execFileSync('tar', ['tvzf', join(dir, 'x.tar.gz'), '--utc'], { encoding: 'utf8' });
    expect(verbose).toContain('2026-01-05 00:00');
  });

  it('refuses a name that would land outside the archive', async () => {
    await expect(buffer(tarGz([{ name: '../etc/passwd', body: Buffer.from('x'), mtime: 0 }]))).rejects.toThrow(/not a relative path/);
    await expect(buffer(tarGz([{ name: '/abs', body: Buffer.from('x'), mtime: 0 }]))).rejects.toThrow(/not a relative path/);
  });
});
