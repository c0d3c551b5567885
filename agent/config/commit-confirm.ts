import { readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../../lib/atomic-write.js';
import { saveConfig } from './load.js';

/**
 * Commit-confirmed configuration changes, as network devices do them: a remote
 * change that could cut the device off (see remote-change.ts) is applied with
 * the previous configuration kept beside it; unless the agent is back and
 * healthy (connected to the broker, GPS and button up) within a deadline, it
 * restores the previous configuration by itself. The state lives in a file next
 * to the config (`<config>.pending.json`, not in dataDir, which the change may
 * move), so it survives the restart that applies the change and any crash; a
 * restart loop ends in the old configuration after MAX_BOOTS starts.
 *
 *   pending     the new config is on disk; each start counts a boot and watches
 *   rolled-back the previous config is back on disk; the next start reports it
 *   committed   healthy in time; reported, then the state is removed
 */
export interface PendingChange {
  v: 1;
  /** The config.set request that made the change; answered when its outcome is known. */
  requestId: string;
  name: string;
  /** Dotted keys the patch changed. */
  changed: string[];
  /** The raw config before the change, restored on rollback. */
  previous: Record<string, unknown>;
  /** The raw config the change wrote (to tell whether it is in effect). */
  next: Record<string, unknown>;
  appliedAt: number;
  deadlineAt: number;
  /** Agent starts with the new config so far. */
  boots: number;
  phase: 'pending' | 'rolled-back' | 'committed';
  /** Why it was rolled back. */
  reason?: string;
}

/** Starts with a pending change after which it is rolled back without waiting for the deadline (a crash loop). */
export const MAX_BOOTS = 3;

export function pendingPath(configPath: string): string {
  return `${configPath}.pending.json`;
}

/** The pending change next to `configPath`, or undefined. Throws naming the file when it is unreadable. */
export async function readPending(configPath: string): Promise<PendingChange | undefined> {
  const path = pendingPath(configPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read pending configuration change ${path}: ${(err as Error).message}`, { cause: err });
  }
  const p = JSON.parse(text) as PendingChange;
  if (p.v !== 1 || typeof p.requestId !== 'string' || typeof p.previous !== 'object' || !['pending', 'rolled-back', 'committed'].includes(p.phase)) {
    throw new Error(`pending configuration change ${path} is not valid: ${text.slice(0, 200)}`);
  }
  return p;
}

/** Writes the state durably (atomic replace, mode 0600: it holds a whole config). */
export async function writePending(configPath: string, p: PendingChange): Promise<void> {
  await writeFileAtomic(pendingPath(configPath), `${JSON.stringify(p, null, 1)}\n`, 0o600);
}

export async function clearPending(configPath: string): Promise<void> {
  await unlink(pendingPath(configPath)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await fsyncDir(dirname(configPath));
}

/** Restores the previous config and records why; the next start reports the rollback. */
export async function rollBack(configPath: string, p: PendingChange, reason: string): Promise<PendingChange> {
  await saveConfig(configPath, p.previous);
  const rolled: PendingChange = { ...p, phase: 'rolled-back', reason };
  await writePending(configPath, rolled);
  return rolled;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Run at every start, before the config is loaded: decides what this start is. A pending change
 * past its deadline, or started MAX_BOOTS times already, is rolled back now (the previous config
 * is what this start loads); one whose config is not on disk any more (the agent stopped before
 * writing it, or someone replaced the file) is dropped as rolled back; otherwise the start is counted.
 */
export async function prepareBoot(configPath: string, now: number): Promise<PendingChange | undefined> {
  const p = await readPending(configPath);
  if (p === undefined || p.phase !== 'pending') return p;
  const onDisk: unknown = JSON.parse(await readFile(configPath, 'utf8'));
  if (!sameJson(onDisk, p.next)) {
    const dropped: PendingChange = { ...p, phase: 'rolled-back', reason: sameJson(onDisk, p.previous) ? 'the agent stopped before the change was applied' : 'the configuration file was replaced while the change waited for confirmation' };
    await writePending(configPath, dropped);
    return dropped;
  }
  if (now > p.deadlineAt) return rollBack(configPath, p, `not confirmed healthy within ${Math.round((p.deadlineAt - p.appliedAt) / 1000)} s (the deadline passed while the agent was down)`);
  if (p.boots >= MAX_BOOTS) return rollBack(configPath, p, `the agent started ${p.boots} times with it without becoming healthy`);
  const counted: PendingChange = { ...p, boots: p.boots + 1 };
  await writePending(configPath, counted);
  return counted;
}

/** What "healthy" means for a change to be committed: the services the new config enables are up. */
export interface HealthProbe {
  connected: boolean;
  /** undefined: the service is disabled in the config. */
  gps?: boolean;
  button?: boolean;
}

/** The unhealthy parts of a probe, as words for a reason ("not connected to the broker"); empty when healthy. */
export function unhealthy(h: HealthProbe): string[] {
  const out: string[] = [];
  if (!h.connected) out.push('not connected to the broker');
  if (h.gps === false) out.push('GPS receiver not delivering');
  if (h.button === false) out.push('alarm button not watched');
  return out;
}

/** What to do now with a pending change: commit, roll back (with the reason), or wait. Pure. */
export function confirmDecision(p: PendingChange, h: HealthProbe, now: number): { action: 'commit' } | { action: 'rollback'; reason: string } | { action: 'wait' } {
  const bad = unhealthy(h);
  if (bad.length === 0) return { action: 'commit' };
  if (now >= p.deadlineAt) return { action: 'rollback', reason: `not healthy within ${Math.round((p.deadlineAt - p.appliedAt) / 1000)} s: ${bad.join(', ')}` };
  return { action: 'wait' };
}
