import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCrashState, crashTree, fileContent, type Variant } from './crash-state.js';
import { FsModel, ReplayError } from './fs-model.js';
import { StraceParser } from './strace-parse.js';

// Small hand-made traces over a hand-made snapshot: what each crash point may leave.
const ROOT = '/data';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function snapshot(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'nrec-crash-snap-'));
  dirs.push(d);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), text);
  }
  return d;
}

/** Replays trace lines (one call each, `TID TIME` added) over a snapshot. */
function replay(snap: string, calls: string[]): FsModel {
  const m = FsModel.fromSnapshot(ROOT, snap);
  const p = new StraceParser((c) => m.apply(c), (e) => m.exit(e));
  calls.forEach((c, i) => p.push(`100 ${1000 + i}.000000 ${c}`));
  return m;
}

const tree = (m: FsModel, at: number, v: Variant, seed = 1) =>
  Object.fromEntries([...crashTree(m, at, v, seed)].filter(([, e]) => e.data !== undefined).map(([p, e]) => [p, e.data!.toString()]));

const open = (path: string, fd: number, flags = '0x80241') => `openat(-100</>, "${path}", ${flags}, 0666) = ${fd}<${path}>`;

describe('crash states', () => {
  it('an unsynced write may be lost; a synced one is kept; a write after the sync is not covered by it', () => {
    const m = replay(snapshot({ 'a.txt': 'old' }), [
      open('/data/a.txt', 3, '0x80002'),
      'pwrite64(3</data/a.txt>, "new", 3, 0) = 3',
      'fsync(3</data/a.txt>) = 0',
      'pwrite64(3</data/a.txt>, "NEW", 3, 0) = 3',
    ]);
    expect(tree(m, 1, 'synced')).toEqual({ 'a.txt': 'old' });
    expect(tree(m, 1, 'kept')).toEqual({ 'a.txt': 'new' });
    expect(tree(m, 2, 'synced')).toEqual({ 'a.txt': 'new' });
    expect(tree(m, 3, 'synced')).toEqual({ 'a.txt': 'new' });
    expect(tree(m, 3, 'kept')).toEqual({ 'a.txt': 'NEW' });
  });

  it('a created file is gone until its directory is synced, whatever was synced of its data', () => {
    const m = replay(snapshot({}), [
      open('/data/f', 3),
      'write(3</data/f>, "abc", 3) = 3',
      'fsync(3</data/f>) = 0',
      'openat(-100</>, "/data", 0x80000) = 4</data>',
      'fsync(4</data>) = 0',
    ]);
    expect(tree(m, 2, 'kept')).toEqual({ f: 'abc' });
    expect(tree(m, 2, 'synced')).toEqual({});
    expect(tree(m, 4, 'synced')).toEqual({ f: 'abc' });
  });

  it('write-temp-and-rename leaves the old or the new file, never a torn one, once synced in order', () => {
    const m = replay(snapshot({ 'c.json': 'v1' }), [
      open('/data/c.json.tmp', 3, '0x800c1'),
      'write(3</data/c.json.tmp>, "v2", 2) = 2',
      'fsync(3</data/c.json.tmp>) = 0',
      'close(3</data/c.json.tmp>) = 0',
      'rename("/data/c.json.tmp", "/data/c.json") = 0',
      'openat(-100</>, "/data", 0x80000) = 4</data>',
      'fsync(4</data>) = 0',
    ]);
    for (let at = 0; at < 7; at++) {
      for (const v of ['synced', 'kept', 'torn', 'reordered'] as const) {
        for (let seed = 0; seed < 5; seed++) expect(['v1', 'v2']).toContain(tree(m, at, v, seed)['c.json']);
      }
    }
    expect(tree(m, 5, 'synced')).toEqual({ 'c.json': 'v1' }); // the rename is undone: not yet durable
    expect(tree(m, 6, 'synced')).toEqual({ 'c.json': 'v2' });
  });

  it('an unlink or rename not yet durable is undone; write() follows the file position and O_APPEND', () => {
    const m = replay(snapshot({ 'x': 'keep', 'log': 'A' }), [
      'unlink("/data/x") = 0',
      open('/data/log', 3, '0x80401'),
      'write(3</data/log>, "B", 1) = 1',
      open('/data/p', 4),
      'write(4</data/p>, "12", 2) = 2',
      'lseek(4</data/p>, 0, 0) = 0',
      'write(4</data/p>, "3", 1) = 1',
    ]);
    expect(tree(m, 6, 'synced')).toEqual({ x: 'keep', log: 'A' });
    expect(tree(m, 6, 'kept')).toEqual({ log: 'AB', p: '32' });
  });

  it('tears a large unsynced write at a 4 KiB boundary and mixes blocks when reordered', () => {
    const big = 'b'.repeat(3 * 4096);
    const m = replay(snapshot({ f: 'a'.repeat(3 * 4096) }), [open('/data/f', 3, '0x80002'), `pwrite64(3</data/f>, "${big}", ${big.length}, 0) = ${big.length}`]);
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const torn = fileContent(m, m.inodes[1], 1, 'torn', seed).toString();
      expect(torn).toMatch(/^b*a*$/);
      expect(torn.indexOf('a') % 4096 === 0 || !torn.includes('a')).toBe(true);
      const mixed = fileContent(m, m.inodes[1], 1, 'reordered', seed).toString();
      expect(mixed.length).toBe(3 * 4096);
      for (let b = 0; b < 3; b++) expect(new Set(mixed.slice(b * 4096, (b + 1) * 4096)).size).toBe(1);
      seen.add(mixed.replace(/(.)\1{4095}/g, '$1'));
    }
    expect(seen.size, 'reordering picks different blocks for different seeds').toBeGreaterThan(3);
  });

  it('threads share descriptors; a child process keeps its own after fork', () => {
    const m = FsModel.fromSnapshot(ROOT, snapshot({}));
    const p = new StraceParser((c) => m.apply(c));
    p.push('1 1.0 clone3({flags=0x3d0f00} => {parent_tid=[2]}, 88) = 2');
    p.push(`1 1.1 ${open('/data/t', 5)}`);
    p.push('2 1.2 write(5</data/t>, "x", 1) = 1'); // another thread of the same process
    p.push('1 1.3 clone(child_stack=NULL, flags=0x1200000|17) = 3');
    p.push('3 1.4 write(5</data/t>, "y", 1) = 1'); // the child, on the inherited descriptor
    expect(tree(m, 10, 'kept')).toEqual({ t: 'xy' });
    p.push('1 1.5 close(5</data/t>) = 0');
    expect(() => p.push('1 1.6 write(5</data/t>, "z", 1) = 1')).toThrow(ReplayError);
  });

  it('builds the state on disk, with modes, and names equal states by one digest', () => {
    const snap = snapshot({ 'k/key.pem': 'secret' });
    chmodSync(join(snap, 'k', 'key.pem'), 0o600);
    const m = replay(snap, [`openat(-100</>, "/data/n", 0x800c1, 0640) = 3</data/n>`]);
    const target = mkdtempSync(join(tmpdir(), 'nrec-crash-state-'));
    dirs.push(target);
    const a = buildCrashState(m, 0, 'kept', 1, target);
    expect(readFileSync(join(target, 'k', 'key.pem'), 'utf8')).toBe('secret');
    expect(statSync(join(target, 'k', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(target, 'n')).mode & 0o777).toBe(0o640);
    expect(a.files).toBe(2);
    expect(buildCrashState(m, 0, 'kept', 1, target).digest).toBe(a.digest);
    expect(buildCrashState(m, 0, 'synced', 1, target).digest, 'the new file is not durable').not.toBe(a.digest);
  });

  it('refuses what it cannot model instead of ignoring it', () => {
    expect(() => replay(snapshot({ f: '' }), ['link("/data/f", "/data/g") = 0'])).toThrow(ReplayError);
    expect(() => replay(snapshot({}), ['io_uring_setup(32, 0x7ff) = 3'])).toThrow(/UV_USE_IO_URING=0/);
    expect(() => replay(snapshot({ f: '' }), [open('/data/f', 3, '0x80002'), 'mmap(NULL, 4096, 0x3, 0x1, 3</data/f>, 0) = 0x7f00'])).toThrow(/shared mapping/);
  });
});
