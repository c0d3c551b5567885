import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';

/**
 * The update in progress, kept on disk (it must survive the restart it
 * causes, a crash of the updater and a power cut) in <state>/update/:
 *   state.json    written by the updater (root): the update and its phase
 *   healthy.json  written by the agent: "this release came up healthy"
 *   reported.json written by the agent: outcomes already sent to the platform
 *   request.json  written by the agent for a remote update.install, taken by the updater
 */
export type UpdatePhase = 'testing' | 'committed' | 'rolled-back' | 'refused';

export interface UpdateState {
  id: string;
  phase: UpdatePhase;
  release: string;
  previous?: string;
  startedAt: number;
  deadlineAt: number;
  finishedAt?: number;
  reason?: string;
  /** The remote command that asked for it, when one did. */
  requestId?: string;
}

export interface HealthyMarker {
  /** The release directory the agent runs from (real path). */
  releaseDir: string;
  version: string;
  pid: number;
  at: number;
}

export interface UpdateRequest {
  bundle: string;
  sha256: string;
  requestId: string;
  at: number;
}

export const STATE_FILE = 'state.json';
export const HEALTHY_FILE = 'healthy.json';
export const REPORTED_FILE = 'reported.json';
export const REQUEST_FILE = 'request.json';

export async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    // A torn file cannot happen with atomic writes; anything else is treated as absent and rewritten.
    return undefined;
  }
}

/** Written world-readable (0644): the agent, an unprivileged user, reads what the updater wrote. */
export async function writeJson(path: string, value: unknown, mode = 0o644): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}
