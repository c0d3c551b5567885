import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { directoryBytes, filesystemSpace, readStorage, storageFill } from './storage.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nrec-storage-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('storage', () => {
  it('statfs gives sane numbers for the temp filesystem', async () => {
    const s = await filesystemSpace(tmpdir());
    expect(s).toBeDefined();
    expect(s?.freeBytes).toBeGreaterThan(0);
    expect(s?.totalBytes).toBeGreaterThanOrEqual(s?.freeBytes ?? Number.POSITIVE_INFINITY);
    expect(Number.isInteger(s?.freeBytes)).toBe(true);
  });

  it('statfs of a missing path is undefined, not an exception', async () => {
    expect(await filesystemSpace('/nonexistent/nrec')).toBeUndefined();
  });

  it('sums the sizes of files in a tree, without following symlinks', async () => {
    const d = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, 'big'), Buffer.alloc(50_000));
    mkdirSync(join(d, 'media', 'seg'), { recursive: true });
    writeFileSync(join(d, 'outbox.db'), Buffer.alloc(12_345));
    writeFileSync(join(d, 'media', 'a.ts'), Buffer.alloc(1000));
    writeFileSync(join(d, 'media', 'seg', 'b.ts'), Buffer.alloc(4096));
    writeFileSync(join(d, 'empty'), '');
    symlinkSync(join(outside, 'big'), join(d, 'link-to-big'));
    symlinkSync(outside, join(d, 'link-to-dir'));
    expect(await directoryBytes(d)).toBe(12_345 + 1000 + 4096);
  });

  it('a missing directory uses 0 bytes', async () => {
    expect(await directoryBytes('/nonexistent/nrec')).toBe(0);
  });

  it('readStorage reports free space, use and quota together', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'f'), Buffer.alloc(3000));
    const r = await readStorage(d, 10_000);
    expect(r.usedBytes).toBe(3000);
    expect(r.quotaBytes).toBe(10_000);
    expect(r.freeBytes).toBeGreaterThan(0);
  });

  it('fill is use over the quota, or over what the disk still allows when that is less', () => {
    expect(storageFill({ usedBytes: 900, quotaBytes: 1000 })).toBe(0.9);
    expect(storageFill({ usedBytes: 900, quotaBytes: 1000, freeBytes: 1_000_000 })).toBe(0.9);
    expect(storageFill({ usedBytes: 500, quotaBytes: 1000, freeBytes: 50 })).toBeCloseTo(500 / 550);
    expect(storageFill({ usedBytes: 0, quotaBytes: 0 })).toBe(1);
    expect(storageFill({ usedBytes: 0, quotaBytes: 1000, freeBytes: 0 })).toBe(1);
  });
});
