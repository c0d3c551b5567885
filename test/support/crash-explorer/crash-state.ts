import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataOp, DirOp, FsModel, Inode } from './fs-model.js';

/*
 * Builds the directory a power cut at one point of a trace could leave.
 *
 * The model (docs/crash-safety.md), chosen to be stricter than ext4 with
 * data=ordered, so that what survives it survives the real thing:
 * - A crash point is a trace line: every call that completed on or before it
 *   happened, nothing after it did.
 * - A file's data is durable once an fsync/fdatasync of it (or sync/syncfs)
 *   that started after the write has completed. Writes after that may be lost,
 *   kept, torn at a 4 KiB boundary, or kept block by block in any order.
 *   sync_file_range makes nothing durable.
 * - A directory entry (create, mkdir, rename, unlink) is durable only once an
 *   fsync of that directory has completed after it (both directories for a
 *   rename across two). An fsync of a file does not make its name durable.
 *   Entries not yet durable may be undone, all of them or a later part of them,
 *   per directory; a rename is undone or kept whole.
 * - A file whose name is not durable is gone, whatever was synced of its data.
 */

export type Variant = 'synced' | 'kept' | 'torn' | 'reordered';
export const VARIANTS: readonly Variant[] = ['synced', 'kept', 'torn', 'reordered'];
export const BLOCK = 4096;

/** A small deterministic generator (mulberry32), so a failing state can be built again from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('/')).digest().readUInt32LE(0);
}

/** The line of the latest sync of `inode` (or a global one) that completed by `at`, by where it started; -1 if none. */
export function syncedBefore(model: FsModel, inode: Inode, at: number): number {
  let best = -1;
  for (const s of inode.syncs) if (s.end <= at && s.start > best) best = s.start;
  for (const s of model.globalSyncs) if (s.end <= at && s.start > best) best = s.start;
  return best;
}

function dirsOf(op: DirOp): number[] {
  return op.kind === 'rename' ? [op.from, op.to] : [op.dir];
}

/** Whether a directory operation is durable at `at`. */
export function dirOpDurable(model: FsModel, op: DirOp, at: number): boolean {
  return dirsOf(op).every((d) => op.end < syncedBefore(model, model.inodes[d], at));
}

export function applyOps(base: Buffer, ops: readonly DataOp[]): Buffer {
  let buf: Buffer = Buffer.from(base);
  for (const op of ops) buf = applyOp(buf, op);
  return buf;
}

function applyOp(buf: Buffer, op: DataOp): Buffer {
  if (op.kind === 'truncate') {
    if (op.size <= buf.length) return buf.subarray(0, op.size);
    return Buffer.concat([buf, Buffer.alloc(op.size - buf.length)]);
  }
  if (op.kind === 'zero') {
    const b = buf.length >= op.off + op.len ? buf : Buffer.concat([buf, Buffer.alloc(op.off + op.len - buf.length)]);
    b.fill(0, op.off, Math.min(b.length, op.off + op.len));
    return b;
  }
  const need = op.off + op.data.length;
  const b = need <= buf.length ? buf : Buffer.concat([buf, Buffer.alloc(need - buf.length)]);
  op.data.copy(b, op.off);
  return b;
}

/** The content of one file at a crash point under a variant. */
export function fileContent(model: FsModel, inode: Inode, at: number, variant: Variant, seed: number): Buffer {
  const ops = inode.ops.filter((o) => o.end <= at);
  const synced = syncedBefore(model, inode, at);
  const durable = ops.filter((o) => o.end < synced);
  const pending = ops.slice(durable.length);
  if (pending.length === 0 || variant === 'synced') return applyOps(inode.base, durable);
  if (variant === 'kept') return applyOps(inode.base, ops);
  const r = rng(seedOf(seed, inode.id, at, variant));
  if (variant === 'torn') {
    // The pending writes reached the disk in order up to one, which tore at a block boundary.
    const cut = Math.floor(r() * (pending.length + 1));
    let buf = applyOps(inode.base, [...durable, ...pending.slice(0, cut)]);
    const torn = pending[cut];
    if (torn?.kind === 'write') {
      const first = Math.floor(torn.off / BLOCK) + 1;
      const last = Math.ceil((torn.off + torn.data.length) / BLOCK) - 1;
      if (last >= first) {
        const boundary = (first + Math.floor(r() * (last - first + 1))) * BLOCK;
        buf = applyOp(buf, { ...torn, data: torn.data.subarray(0, boundary - torn.off) });
      }
    }
    return buf;
  }
  // reordered: each block holds its old or its new content, independently; the size is old or new.
  const before = applyOps(inode.base, durable);
  const after = applyOps(inode.base, ops);
  const size = r() < 0.5 ? before.length : after.length;
  const out = Buffer.alloc(size);
  for (let off = 0; off < size; off += BLOCK) {
    const src = r() < 0.5 ? before : after;
    if (off < src.length) src.copy(out, off, off, Math.min(off + BLOCK, size, src.length));
  }
  return out;
}

/** Which directory operations survive, in trace order. */
export function survivingDirOps(model: FsModel, at: number, variant: Variant, seed: number): DirOp[] {
  const ops = model.dirOps.filter((o) => o.end <= at);
  if (variant === 'kept') return ops;
  const durable = ops.map((o) => dirOpDurable(model, o, at));
  if (variant === 'synced') return ops.filter((_, i) => durable[i]);
  const r = rng(seedOf(seed, 'dirs', at, variant));
  const firstPending = ops.find((_, i) => !durable[i])?.end ?? at;
  const span = at + 2 - firstPending;
  // torn: one cut for all directories (a journal committed up to some point); reordered: one per directory.
  const cuts = new Map<number, number>();
  const global = firstPending + Math.floor(r() * span);
  const cutOf = (d: number) => {
    if (variant === 'torn') return global;
    let c = cuts.get(d);
    if (c === undefined) cuts.set(d, (c = firstPending + Math.floor(r() * span)));
    return c;
  };
  return ops.filter((o, i) => durable[i] || dirsOf(o).every((d) => o.end < cutOf(d)));
}

export interface CrashState {
  at: number;
  variant: Variant;
  /** Hash of every path, mode and content: equal states are explored once. */
  digest: string;
  files: number;
}

/** The tree at a crash point, as path → content (undefined for directories), with modes. */
export function crashTree(model: FsModel, at: number, variant: Variant, seed: number): Map<string, { mode: number; data?: Buffer }> {
  const entries = new Map<number, Map<string, number>>();
  for (const [d, e] of model.baseEntries) entries.set(d, new Map(e));
  const ent = (d: number) => {
    let m = entries.get(d);
    if (m === undefined) entries.set(d, (m = new Map()));
    return m;
  };
  for (const op of survivingDirOps(model, at, variant, seed)) {
    if (op.kind === 'link') ent(op.dir).set(op.name, op.inode);
    else if (op.kind === 'unlink') {
      if (ent(op.dir).get(op.name) === op.inode) ent(op.dir).delete(op.name);
    } else {
      if (ent(op.from).get(op.fromName) === op.inode) ent(op.from).delete(op.fromName);
      ent(op.to).set(op.toName, op.inode);
    }
  }
  const out = new Map<string, { mode: number; data?: Buffer }>();
  const seen = new Set<number>();
  const walk = (d: number, rel: string) => {
    if (seen.has(d)) return; // a directory reachable twice (a rename half undone): keep the first
    seen.add(d);
    for (const [name, id] of [...ent(d)].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const inode = model.inodes[id];
      const p = rel === '' ? name : `${rel}/${name}`;
      if (inode.kind === 'dir') {
        out.set(p, { mode: inode.mode });
        walk(id, p);
      } else {
        out.set(p, { mode: inode.mode, data: fileContent(model, inode, at, variant, seed) });
      }
    }
  };
  walk(0, '');
  return out;
}

/** Writes the tree a crash at `at` could leave into `target` (emptied first). */
export function buildCrashState(model: FsModel, at: number, variant: Variant, seed: number, target: string): CrashState {
  const tree = crashTree(model, at, variant, seed);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true, mode: model.inodes[0].mode });
  chmodSync(target, model.inodes[0].mode);
  for (const [p, e] of tree) {
    const full = join(target, p);
    if (e.data === undefined) mkdirSync(full, { mode: e.mode });
    else writeFileSync(full, e.data, { mode: e.mode });
    chmodSync(full, e.mode);
  }
  return { at, variant, digest: treeDigest(tree), files: [...tree.values()].filter((e) => e.data !== undefined).length };
}

export function treeDigest(tree: Map<string, { mode: number; data?: Buffer }>): string {
  const h = createHash('sha256');
  for (const [p, e] of tree) {
    h.update(`${p}\0${e.mode}\0`);
    if (e.data !== undefined) h.update(createHash('sha256').update(e.data).digest());
    h.update('\n');
  }
  return h.digest('hex');
}
