import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * A lock between processes (ingest workers) on one shared directory, made of
 * a directory: the owner's `{host, pid, nonce}` is written into a temp
 * directory that is then renamed to `.lock`. rename(2) of a directory onto a
 * non-empty one fails, so exactly one worker holds it, and its owner file is
 * there from the first instant. A lock whose owner died (same host, pid gone
 * or reused by a later process) or that is older than `staleMs` (another
 * host, or a hung worker) is taken over.
 */

/** Who holds a lock or a claim: `nonce` tells a process from an earlier one that had the same pid. */
export interface Owner {
  host: string;
  pid: number;
  nonce: string;
}

export interface LockOptions {
  /** This process. */
  self: Owner;
  /** A lock older than this is taken over whoever holds it (the critical sections take milliseconds). */
  staleMs: number;
  /** Whether a process of this host still runs. */
  isAlive: (pid: number) => boolean;
  now: () => number;
}

/** True unless the process is gone (EPERM: it runs under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `owner` can no longer be working: a dead or earlier process of this host. */
export function ownerGone(owner: Owner, o: Pick<LockOptions, 'self' | 'isAlive'>): boolean {
  if (owner.host !== o.self.host) return false;
  if (owner.pid === o.self.pid) return owner.nonce !== o.self.nonce;
  return !o.isAlive(owner.pid);
}

const LOCK = '.lock';
const OWNER = 'owner.json';
const nonce = () => randomBytes(6).toString('hex');

/** Runs `fn` holding the lock in `dir` (created if missing); waits for another holder, takes over a dead one's. */
export async function withDirLock<T>(dir: string, o: LockOptions, fn: () => Promise<T>): Promise<T> {
  const token = await acquire(dir, o);
  try {
    return await fn();
  } finally {
    await release(dir, token);
  }
}

async function acquire(dir: string, o: LockOptions): Promise<string> {
  const lock = join(dir, LOCK);
  const token = nonce();
  const owner = { ...o.self, lockToken: token };
  const deadline = o.now() + 2 * o.staleMs;
  for (let attempt = 0; ; attempt++) {
    const tmp = join(dir, `${LOCK}.new-${token}`);
    try {
      await mkdir(tmp, { recursive: true });
      await writeFile(join(tmp, OWNER), JSON.stringify(owner));
      await rename(tmp, lock);
      return token;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // ENOENT: a spool sweep removed the (empty) directory between our steps; make it again.
      if (code === 'ENOENT' && o.now() <= deadline) continue;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    if (await takeOverIfStale(dir, o)) continue;
    if (o.now() > deadline) throw new Error(`lock ${lock} is held by ${await describe(lock)} for longer than ${2 * o.staleMs} ms`);
    await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt * 3)));
  }
}

/** Moves a dead or stale holder's lock aside (atomically, so only one waiter does) and removes it. */
async function takeOverIfStale(dir: string, o: LockOptions): Promise<boolean> {
  const lock = join(dir, LOCK);
  let held: Owner | undefined;
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(lock)).mtimeMs;
    held = JSON.parse(await readFile(join(lock, OWNER), 'utf8')) as Owner;
  } catch {
    return false; // released meanwhile (or being replaced): just try again
  }
  if (!ownerGone(held, o) && o.now() - mtimeMs < o.staleMs) return false;
  const aside = join(dir, `${LOCK}.stale-${nonce()}`);
  try {
    await rename(lock, aside);
  } catch {
    return false; // another waiter took it over first
  }
  await rm(aside, { recursive: true, force: true });
  return true;
}

async function release(dir: string, token: string): Promise<void> {
  const lock = join(dir, LOCK);
  try {
    const held = JSON.parse(await readFile(join(lock, OWNER), 'utf8')) as { lockToken?: string };
    // Taken over while we were slow: the lock is someone else's now.
    if (held.lockToken !== token) return;
  } catch {
    return;
  }
  const aside = join(dir, `${LOCK}.free-${token}`);
  await rename(lock, aside).catch(() => undefined);
  await rm(aside, { recursive: true, force: true });
}

async function describe(lock: string): Promise<string> {
  try {
    const o = JSON.parse(await readFile(join(lock, OWNER), 'utf8')) as Owner;
    return `pid ${o.pid} on ${o.host}`;
  } catch {
    return 'an unknown owner';
  }
}

/** True for the names the lock leaves in its directory (the sweep must not treat them as chunks). */
export function isLockEntry(name: string): boolean {
  return name === LOCK || name.startsWith(`${LOCK}.`);
}
