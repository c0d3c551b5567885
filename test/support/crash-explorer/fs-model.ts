import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { bytesOf, fdPathOf, numOf, textOf, type Arg, type ProcessExit, type Syscall } from './strace-parse.js';

/*
 * The file-system side of the crash explorer: replays the system calls of a
 * trace over a snapshot of one directory tree (the agent's data directory) and
 * remembers, per file and per directory, what was written and what was made
 * durable when. crash-state.ts then builds the trees a power cut could leave.
 *
 * Files and directories are inodes: a name is an entry in its directory, so
 * renames, unlinks and open descriptors behave as in the kernel. Only paths
 * under the root are modelled; a call that changes one in a way the model does
 * not know (a hard link, a writable shared mapping of a file other than
 * SQLite's -shm, io_uring) fails the replay loudly rather than being ignored.
 */

// Linux x86-64 / arm64 flag values (strace -X raw prints numbers).
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;
const O_TMPFILE = 0o20000000;
const CLONE_FILES = 0x400;
const AT_REMOVEDIR = 0x200;
const RENAME_EXCHANGE = 2;
const F_DUPFD = 0;
const F_SETFD = 2;
const F_DUPFD_CLOEXEC = 1030;
const FD_CLOEXEC = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;

export type DataOp =
  | { end: number; kind: 'write'; off: number; data: Buffer }
  | { end: number; kind: 'truncate'; size: number }
  | { end: number; kind: 'zero'; off: number; len: number };

export type DirOp =
  | { end: number; kind: 'link'; dir: number; name: string; inode: number }
  | { end: number; kind: 'unlink'; dir: number; name: string; inode: number }
  | { end: number; kind: 'rename'; from: number; fromName: string; to: number; toName: string; inode: number };

export interface Inode {
  id: number;
  kind: 'file' | 'dir';
  mode: number;
  /** Content at the snapshot (files; empty for files created during the trace). */
  base: Buffer;
  ops: DataOp[];
  /** fsync/fdatasync of this inode: the lines where each started and completed. */
  syncs: Array<{ start: number; end: number }>;
  /** Size as the running system saw it (for O_APPEND and fallocate). */
  liveSize: number;
}

interface Ofd {
  /** undefined: a file outside the root, a pipe, a socket. */
  inode: Inode | undefined;
  path: string;
  pos: number;
  append: boolean;
}
type FdTable = Map<number, { ofd: Ofd; cloexec: boolean }>;

/** An error in the trace the model cannot replay faithfully. */
export class ReplayError extends Error {}

export class FsModel {
  readonly root: string;
  readonly inodes: Inode[] = [];
  readonly dirOps: DirOp[] = [];
  /** sync()/syncfs(): everything written before `start` is durable at `end`. */
  readonly globalSyncs: Array<{ start: number; end: number }> = [];
  /** Entries at the snapshot, per directory inode. */
  readonly baseEntries = new Map<number, Map<string, number>>();
  /** Entries as the running system saw them. */
  readonly #live = new Map<number, Map<string, number>>();
  readonly #tables = new Map<number, FdTable>();
  /** Threads whose table was made before their clone returned (the child ran first). */
  readonly #lazy = new Set<number>();
  /** Lines of every call that changed something under the root, and of every sync. */
  readonly changeLines: number[] = [];
  readonly syncLines: Array<{ start: number; end: number; inode: number }> = [];
  lastLine = -1;

  private constructor(root: string) {
    this.root = resolve(root);
    this.#newInode('dir', 0o700, Buffer.alloc(0));
    this.baseEntries.set(0, new Map());
  }

  /** A model whose initial state is the snapshot directory `snapshot`, standing for `root` as the trace names it. */
  static fromSnapshot(root: string, snapshot: string): FsModel {
    const m = new FsModel(root);
    m.inodes[0].mode = lstatSync(snapshot).mode & 0o7777;
    const walk = (dirId: number, path: string) => {
      for (const name of readdirSync(path).sort()) {
        const p = join(path, name);
        const st = lstatSync(p);
        if (st.isDirectory()) {
          const d = m.#newInode('dir', st.mode & 0o7777, Buffer.alloc(0));
          m.baseEntries.get(dirId)!.set(name, d.id);
          m.baseEntries.set(d.id, new Map());
          walk(d.id, p);
        } else if (st.isFile()) {
          const data = readFileSync(p);
          const f = m.#newInode('file', st.mode & 0o7777, data);
          m.baseEntries.get(dirId)!.set(name, f.id);
        } else {
          throw new ReplayError(`snapshot ${p}: only files and directories are modelled`);
        }
      }
    };
    walk(0, snapshot);
    for (const [d, e] of m.baseEntries) m.#live.set(d, new Map(e));
    return m;
  }

  /** An empty root (unit tests). */
  static empty(root: string): FsModel {
    const m = new FsModel(root);
    m.#live.set(0, new Map());
    return m;
  }

  #newInode(kind: 'file' | 'dir', mode: number, base: Buffer): Inode {
    const n: Inode = { id: this.inodes.length, kind, mode, base, ops: [], syncs: [], liveSize: base.length };
    this.inodes.push(n);
    if (kind === 'dir' && n.id !== 0) this.#live.set(n.id, new Map());
    return n;
  }

  /** The path relative to the root, or undefined when outside it. */
  #rel(path: string): string[] | undefined {
    const p = resolve(path);
    if (p === this.root) return [];
    if (!p.startsWith(`${this.root}/`)) return undefined;
    return p.slice(this.root.length + 1).split('/');
  }

  /** The inode a path names now, undefined when missing, null when outside the root. */
  lookup(path: string): Inode | undefined | null {
    const parts = this.#rel(path);
    if (parts === undefined) return null;
    let cur = 0;
    for (const part of parts) {
      const e = this.#live.get(cur)?.get(part);
      if (e === undefined) return undefined;
      cur = e;
    }
    return this.inodes[cur];
  }

  /** Parent directory inode and name of a path under the root. */
  #parent(path: string, line: number): { dir: Inode; name: string } | null {
    const p = resolve(path);
    if (this.#rel(p) === undefined || p === this.root) return null;
    const dir = this.lookup(dirname(p));
    if (dir === null) return null;
    if (dir === undefined || dir.kind !== 'dir') throw new ReplayError(`line ${line + 1}: ${p}: its directory is not in the model`);
    return { dir, name: basename(p) };
  }

  #table(tid: number): FdTable {
    let t = this.#tables.get(tid);
    if (t === undefined) {
      t = new Map();
      this.#tables.set(tid, t);
      this.#lazy.add(tid);
    }
    return t;
  }

  /** Resolves a path argument against a directory descriptor (its decoration) or the cwd shown on AT_FDCWD. */
  #path(dirfd: Arg | undefined, p: string): string {
    if (isAbsolute(p)) return p;
    const base = fdPathOf(dirfd);
    if (base === undefined) throw new ReplayError(`relative path "${p}" without a decorated directory descriptor (run strace with -yy)`);
    return resolve(base, p);
  }

  #ofd(c: Syscall, fdArg: Arg | undefined): Ofd | undefined {
    const fd = numOf(fdArg);
    const e = this.#table(c.tid).get(fd);
    if (e !== undefined) return e.ofd;
    const path = fdPathOf(fdArg);
    if (path !== undefined && this.#rel(path.replace(/ \(deleted\)$/, '')) !== undefined) {
      throw new ReplayError(`line ${c.end + 1}: ${c.name} on descriptor ${fd} (${path}) that the trace never opened (start strace with the process, not by attaching)`);
    }
    return undefined;
  }

  #dataOp(inode: Inode, op: DataOp): void {
    inode.ops.push(op);
    if (op.kind === 'write') inode.liveSize = Math.max(inode.liveSize, op.off + op.data.length);
    else if (op.kind === 'truncate') inode.liveSize = op.size;
    this.changeLines.push(op.end);
  }

  #dirOp(op: DirOp): void {
    this.dirOps.push(op);
    this.changeLines.push(op.end);
    const set = (d: number, name: string, v: number | undefined) => {
      const m = this.#live.get(d)!;
      if (v === undefined) m.delete(name);
      else m.set(name, v);
    };
    if (op.kind === 'link') set(op.dir, op.name, op.inode);
    else if (op.kind === 'unlink') set(op.dir, op.name, undefined);
    else {
      set(op.from, op.fromName, undefined);
      set(op.to, op.toName, op.inode);
    }
  }

  exit(_e: ProcessExit): void {
    // Descriptor tables go with the process; a later thread with the same id starts afresh.
    this.#tables.delete(_e.tid);
    this.#lazy.delete(_e.tid);
  }

  /** Replays one completed call. */
  apply(c: Syscall): void {
    this.lastLine = c.end;
    if (c.ret === undefined || c.ret < 0) return; // failed or never returned: no effect
    const a = c.args;
    switch (c.name) {
      case 'clone':
      case 'clone3':
      case 'fork':
      case 'vfork': {
        if (c.ret === 0) return;
        const flags = c.name === 'clone' ? numOf(a.find((x) => x.kind === 'named' && x.name === 'flags'))
          : c.name === 'clone3' ? numOf((a[0] as Extract<Arg, { kind: 'struct' }>).fields.flags) : 0;
        const parent = this.#table(c.tid);
        const early = this.#lazy.has(c.ret) ? this.#tables.get(c.ret) : undefined;
        let child: FdTable;
        if ((flags & CLONE_FILES) !== 0) child = parent;
        else child = new Map([...parent].map(([fd, e]) => [fd, { ...e }]));
        for (const [fd, e] of early ?? []) child.set(fd, e);
        this.#tables.set(c.ret, child);
        this.#lazy.delete(c.ret);
        return;
      }
      case 'execve': {
        const t = this.#table(c.tid);
        for (const [fd, e] of t) if (e.cloexec) t.delete(fd);
        return;
      }
      case 'open':
      case 'openat':
      case 'creat': {
        const dirfd = c.name === 'openat' ? a[0] : undefined;
        const path = this.#path(dirfd ?? { kind: 'num', text: '-100', value: -100, fd: undefined }, textOf(c.name === 'openat' ? a[1] : a[0]));
        const flags = c.name === 'creat' ? O_CREAT | O_TRUNC | 1 : numOf(c.name === 'openat' ? a[2] : a[1]);
        const modeArg = c.name === 'creat' ? a[1] : c.name === 'openat' ? a[3] : a[2];
        let inode = this.lookup(path);
        if (inode !== null && (flags & O_TMPFILE) === O_TMPFILE) throw new ReplayError(`line ${c.end + 1}: O_TMPFILE under the root is not modelled`);
        if (inode === undefined) {
          if ((flags & O_CREAT) === 0) throw new ReplayError(`line ${c.end + 1}: ${path} opened without O_CREAT but not in the model`);
          const parent = this.#parent(path, c.end)!;
          const mode = modeArg === undefined ? 0o644 : numOf(modeArg) & 0o7777 & ~0o022;
          inode = this.#newInode('file', mode, Buffer.alloc(0));
          this.#dirOp({ end: c.end, kind: 'link', dir: parent.dir.id, name: parent.name, inode: inode.id });
        } else if (inode !== null && (flags & O_TRUNC) !== 0 && inode.kind === 'file' && inode.liveSize > 0) {
          this.#dataOp(inode, { end: c.end, kind: 'truncate', size: 0 });
        }
        this.#table(c.tid).set(c.ret, { ofd: { inode: inode ?? undefined, path, pos: 0, append: (flags & O_APPEND) !== 0 }, cloexec: (flags & O_CLOEXEC) !== 0 });
        return;
      }
      case 'close':
        this.#table(c.tid).delete(numOf(a[0]));
        return;
      case 'dup':
      case 'dup2':
      case 'dup3':
      case 'fcntl': {
        const t = this.#table(c.tid);
        const src = t.get(numOf(a[0]));
        if (c.name === 'fcntl') {
          const cmd = numOf(a[1]);
          if (cmd === F_SETFD && src !== undefined) src.cloexec = (numOf(a[2]) & FD_CLOEXEC) !== 0;
          if (cmd !== F_DUPFD && cmd !== F_DUPFD_CLOEXEC) return;
          if (src !== undefined) t.set(c.ret, { ofd: src.ofd, cloexec: cmd === F_DUPFD_CLOEXEC });
          return;
        }
        if (src === undefined) {
          t.delete(c.ret);
          return;
        }
        t.set(c.ret, { ofd: src.ofd, cloexec: c.name === 'dup3' && (numOf(a[2]) & O_CLOEXEC) !== 0 });
        return;
      }
      case 'lseek': {
        const o = this.#ofd(c, a[0]);
        if (o !== undefined) o.pos = c.ret;
        return;
      }
      case 'read':
      case 'readv': {
        const o = this.#ofd(c, a[0]);
        if (o !== undefined) o.pos += c.ret;
        return;
      }
      case 'write':
      case 'writev':
      case 'pwrite64':
      case 'pwritev':
      case 'pwritev2': {
        const o = this.#ofd(c, a[0]);
        if (o?.inode === undefined || c.ret === 0) return;
        if (o.inode.kind !== 'file') throw new ReplayError(`line ${c.end + 1}: write to a directory`);
        const data = (c.name === 'write' || c.name === 'pwrite64' ? bytesOf(a[1]) : iovBytes(a[1])).subarray(0, c.ret);
        if (data.length !== c.ret) throw new ReplayError(`line ${c.end + 1}: ${c.name} wrote ${c.ret} bytes but the trace shows ${data.length} (raise strace -s)`);
        const positioned = c.name.startsWith('p');
        const off = positioned ? numOf(a[c.name === 'pwrite64' ? 3 : 3]) : o.append ? o.inode.liveSize : o.pos;
        if (!positioned) o.pos = off + data.length;
        this.#dataOp(o.inode, { end: c.end, kind: 'write', off, data: Buffer.from(data) });
        return;
      }
      case 'ftruncate':
      case 'truncate': {
        const inode = c.name === 'ftruncate' ? this.#ofd(c, a[0])?.inode : this.lookup(this.#path(undefined, textOf(a[0]))) ?? undefined;
        if (inode) this.#dataOp(inode, { end: c.end, kind: 'truncate', size: numOf(a[1]) });
        return;
      }
      case 'fallocate': {
        const inode = this.#ofd(c, a[0])?.inode;
        if (inode === undefined) return;
        const mode = numOf(a[1]);
        const off = numOf(a[2]);
        const len = numOf(a[3]);
        if (mode === 0) {
          if (off + len > inode.liveSize) this.#dataOp(inode, { end: c.end, kind: 'truncate', size: off + len });
        } else if (mode === (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
          this.#dataOp(inode, { end: c.end, kind: 'zero', off, len });
        } else if (mode !== FALLOC_FL_KEEP_SIZE) {
          throw new ReplayError(`line ${c.end + 1}: fallocate mode ${mode} is not modelled`);
        }
        return;
      }
      case 'fsync':
      case 'fdatasync': {
        const inode = this.#ofd(c, a[0])?.inode;
        if (inode === undefined) return;
        inode.syncs.push({ start: c.start, end: c.end });
        this.syncLines.push({ start: c.start, end: c.end, inode: inode.id });
        return;
      }
      case 'sync':
      case 'syncfs':
        this.globalSyncs.push({ start: c.start, end: c.end });
        this.syncLines.push({ start: c.start, end: c.end, inode: -1 });
        return;
      case 'mkdir':
      case 'mkdirat': {
        const at = c.name === 'mkdirat';
        const path = this.#path(at ? a[0] : undefined, textOf(at ? a[1] : a[0]));
        const parent = this.#parent(path, c.end);
        if (parent === null) return;
        const d = this.#newInode('dir', numOf(at ? a[2] : a[1]) & 0o7777 & ~0o022, Buffer.alloc(0));
        this.#dirOp({ end: c.end, kind: 'link', dir: parent.dir.id, name: parent.name, inode: d.id });
        return;
      }
      case 'unlink':
      case 'unlinkat':
      case 'rmdir': {
        const at = c.name === 'unlinkat';
        const path = this.#path(at ? a[0] : undefined, textOf(at ? a[1] : a[0]));
        const parent = this.#parent(path, c.end);
        if (parent === null) return;
        const inode = this.lookup(path);
        if (!inode) throw new ReplayError(`line ${c.end + 1}: unlink of ${path}, which the model does not have`);
        void AT_REMOVEDIR;
        this.#dirOp({ end: c.end, kind: 'unlink', dir: parent.dir.id, name: parent.name, inode: inode.id });
        return;
      }
      case 'rename':
      case 'renameat':
      case 'renameat2': {
        const at = c.name !== 'rename';
        const from = this.#path(at ? a[0] : undefined, textOf(at ? a[1] : a[0]));
        const to = this.#path(at ? a[2] : undefined, textOf(at ? a[3] : a[1]));
        if (c.name === 'renameat2' && (numOf(a[4]) & RENAME_EXCHANGE) !== 0) throw new ReplayError(`line ${c.end + 1}: RENAME_EXCHANGE is not modelled`);
        const pf = this.#parent(from, c.end);
        const pt = this.#parent(to, c.end);
        if (pf === null && pt === null) return;
        if (pf === null || pt === null) throw new ReplayError(`line ${c.end + 1}: rename across the root (${from} → ${to}) is not modelled`);
        const inode = this.lookup(from);
        if (!inode) throw new ReplayError(`line ${c.end + 1}: rename of ${from}, which the model does not have`);
        this.#dirOp({ end: c.end, kind: 'rename', from: pf.dir.id, fromName: pf.name, to: pt.dir.id, toName: pt.name, inode: inode.id });
        return;
      }
      case 'link':
      case 'linkat':
      case 'symlink':
      case 'symlinkat': {
        const paths = a.filter((x) => x.kind === 'str').map((x) => textOf(x));
        if (paths.some((p) => this.#rel(p) !== undefined)) throw new ReplayError(`line ${c.end + 1}: ${c.name} under the root is not modelled`);
        return;
      }
      case 'chmod':
      case 'fchmodat': {
        const at = c.name === 'fchmodat';
        const inode = this.lookup(this.#path(at ? a[0] : undefined, textOf(at ? a[1] : a[0])));
        if (inode) inode.mode = numOf(at ? a[2] : a[1]) & 0o7777;
        return;
      }
      case 'fchmod': {
        const inode = this.#ofd(c, a[0])?.inode;
        if (inode) inode.mode = numOf(a[1]) & 0o7777;
        return;
      }
      case 'mmap': {
        const o = a[4] === undefined ? undefined : this.#table(c.tid).get(numOf(a[4]))?.ofd;
        if (o?.inode === undefined) return;
        const prot = numOf(a[2]);
        const flags = numOf(a[3]);
        if ((prot & PROT_WRITE) !== 0 && (flags & MAP_SHARED) !== 0 && !o.path.endsWith('-shm')) {
          throw new ReplayError(`line ${c.end + 1}: writable shared mapping of ${o.path}: writes through it are invisible to strace`);
        }
        return;
      }
      case 'sendfile':
      case 'copy_file_range':
      case 'splice': {
        const out = this.#ofd(c, c.name === 'sendfile' ? a[0] : a[2]);
        if (out?.inode !== undefined) throw new ReplayError(`line ${c.end + 1}: ${c.name} into ${out.path}: its data is not in the trace`);
        return;
      }
      case 'io_uring_setup':
        throw new ReplayError(`line ${c.end + 1}: the process uses io_uring, whose file writes strace cannot see: run it with UV_USE_IO_URING=0`);
      default:
    }
  }
}

function iovBytes(a: Arg | undefined): Buffer {
  if (a?.kind !== 'array') throw new Error('expected an iovec array');
  return Buffer.concat(a.items.map((i) => (i.kind === 'struct' ? bytesOf(i.fields.iov_base) : Buffer.alloc(0))));
}

/** The system calls a trace must contain for the model (pass to strace -e trace=). */
export const TRACED_CALLS = [
  'open', 'openat', 'creat', 'close', 'dup', 'dup2', 'dup3', 'fcntl', 'lseek',
  'read', 'readv', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2',
  'fsync', 'fdatasync', 'sync_file_range', 'sync', 'syncfs', 'msync',
  'truncate', 'ftruncate', 'fallocate',
  'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat', 'mkdir', 'mkdirat', 'rmdir',
  'link', 'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmod', 'fchmodat',
  'mmap', 'sendfile', 'copy_file_range', 'splice', 'io_uring_setup',
  'clone', 'clone3', 'fork', 'vfork', 'execve',
  'sendto', 'sendmsg', 'recvfrom', 'recvmsg',
] as const;
