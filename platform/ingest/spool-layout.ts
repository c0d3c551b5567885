import { readdirSync, readFileSync } from 'node:fs';
import { planOf, type ChunkPlan } from './spool-plan.js';

/* Names inside the spool (the layout is described in part-spool.ts). */

export const HEADER = 'header.json';
export const TMP = '.tmp';
export const CLAIM_RE = /^(\d+)\.claimed-(.+)\.(\d+)\.([0-9a-f]+)$/;
export const VERIFIED_RE = /^(\d+)\.verified$/;
export const INDEX_RE = /^\d+$/;
export const PART_RE = /^part-(\d+)\.bin$/;

export function partFile(part: number): string {
  return `part-${part}.bin`;
}

/** True for the name of a chunk directory in any state: collecting, claimed or verified. */
export function isChunkEntry(name: string): boolean {
  return INDEX_RE.test(name) || CLAIM_RE.test(name) || VERIFIED_RE.test(name);
}

/** A directory's entries, [] when it is gone (synchronous: for the per-message path). */
export function listSync(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The plan of a spooled header file; undefined when missing or unusable. */
export function readPlanSync(path: string): ChunkPlan | undefined {
  try {
    return planOf(readFileSync(path));
  } catch {
    return undefined;
  }
}
