import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isValidId } from '../../protocol/index.js';
import { HEADER, PART_RE, isChunkEntry, listSync, partFile, readPlanSync } from './spool-layout.js';
import { LruMap, type ChunkPlan } from './spool-plan.js';

/*
 * What one worker knows about the spool it shares with others, without
 * listing directories on every message: per collecting chunk, its header's
 * plan and how far its parts are known to be there; per device, what it holds.
 * Everything here is recomputed from the files, so any worker may have
 * written them.
 */

/** Where a worker is in a collecting chunk: every part below `next` was seen in the directory with inode `ino`. */
interface Progress {
  ino: number;
  plan: ChunkPlan | undefined;
  next: number;
}

const TRACKED = 4096;

/** Completeness of collecting chunk directories, by cursor. */
export class ChunkProgress {
  readonly #progress = new LruMap<string, Progress>(TRACKED);

  /** The plan of the header in a collecting directory; undefined while it has none (or the directory is gone). */
  plan(dir: string): ChunkPlan | undefined {
    return this.#of(dir)?.plan;
  }

  #of(dir: string): Progress | undefined {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    let p = this.#progress.get(dir);
    if (p === undefined || p.ino !== st.ino) {
      p = { ino: st.ino, plan: undefined, next: 0 };
      this.#progress.set(dir, p);
    }
    p.plan ??= readPlanSync(join(dir, HEADER));
    return p;
  }

  /**
   * True when the directory holds its header and every part the header
   * announces. The cursor makes a check cost a stat or two, not a listing of
   * the directory: completing a chunk of n parts costs O(n) calls, not O(n²).
   * One listing confirms a chunk the cursor finds complete (the directory may
   * have been claimed and re-created meanwhile, reusing its inode).
   */
  isComplete(dir: string): boolean {
    const p = this.#of(dir);
    if (p?.plan === undefined) return false;
    const n = p.plan.partCount;
    while (p.next < n && existsSync(join(dir, partFile(p.next)))) p.next++;
    if (p.next < n) return false;
    const have = new Set(listSync(dir));
    if (!have.has(HEADER)) {
      this.#progress.delete(dir);
      return false;
    }
    for (let i = 0; i < n; i++) {
      if (!have.has(partFile(i))) {
        p.next = i;
        return false;
      }
    }
    return true;
  }

  /** The directory was claimed or removed: its next incarnation starts afresh. */
  forget(dir: string): void {
    this.#progress.delete(dir);
  }
}

/** What one device holds in the spool (see SpoolMeter). */
export interface SpoolUsage {
  /** Chunks: collecting, claimed or verified. */
  chunks: number;
  /** Their declared sizes; for a collecting chunk without a header yet, what its parts hold. */
  bytes: number;
  /** Parts in collecting directories that have no header yet. */
  headerlessParts: number;
}

/**
 * A device's share of the spool, recomputed from its directories, so workers
 * sharing the spool need no shared counter: one listing per session and a
 * stat per chunk, each header read once per worker (cached by path and
 * inode). The ingest asks once per chunk header, and for parts that came
 * without one. Two workers admitting at the same instant may each pass the
 * quota by one chunk.
 */
export class SpoolMeter {
  readonly #root: string;
  readonly #plans = new LruMap<string, ChunkPlan>(TRACKED);

  constructor(root: string) {
    this.#root = root;
  }

  usage(deviceId: string): SpoolUsage {
    if (!isValidId(deviceId)) throw new Error(`invalid device id "${deviceId}" for the spool`);
    const out: SpoolUsage = { chunks: 0, bytes: 0, headerlessParts: 0 };
    for (const sessionId of listSync(join(this.#root, deviceId))) {
      if (!isValidId(sessionId)) continue;
      const sdir = join(this.#root, deviceId, sessionId);
      for (const name of listSync(sdir)) {
        if (!isChunkEntry(name)) continue;
        const path = join(sdir, name);
        const st = statSync(path, { throwIfNoEntry: false });
        if (st === undefined) continue; // claimed or removed meanwhile: counted under its new name, or gone
        out.chunks++;
        const key = `${path}\0${st.ino}`;
        let plan = this.#plans.get(key);
        if (plan === undefined) {
          plan = readPlanSync(join(path, HEADER));
          if (plan !== undefined) this.#plans.set(key, plan);
        }
        if (plan !== undefined) {
          out.bytes += plan.bytes;
          continue;
        }
        for (const f of listSync(path)) {
          if (!PART_RE.test(f)) continue;
          out.headerlessParts++;
          out.bytes += statSync(join(path, f), { throwIfNoEntry: false })?.size ?? 0;
        }
      }
    }
    return out;
  }
}
