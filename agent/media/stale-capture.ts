import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/*
 * Capture processes left behind by an agent that died (kill -9, OOM, power
 * loss of the supervisor only). ffmpeg does not notice its parent going: it
 * ignores EOF on stdin, and it inherits Node's ignored SIGPIPE, so losing
 * the segment-list pipe does not stop it either (seen in
 * test/evidence-faults.test.ts: the orphan kept writing chunk files). A
 * second agent would then share the chunk dir with it and both would write
 * the same chunk numbers. So the recorder notes its processes here, and the
 * next one kills them before it salvages or captures.
 */

export const CAPTURE_PIDS_FILE = 'capture.pids';

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), or undefined when it is gone or a zombie. */
export function processStartTicks(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which may itself hold spaces and parentheses.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[19];
}

/** Notes the running capture processes (pid and start time, so a reused pid is never mistaken for ours). */
export function noteCaptureProcesses(dir: string, pids: ReadonlyArray<number | undefined>): void {
  const lines = pids.flatMap((pid) => {
    const start = pid === undefined ? undefined : processStartTicks(pid);
    return start === undefined ? [] : [`${pid} ${start}\n`];
  });
  writeFileSync(join(dir, CAPTURE_PIDS_FILE), lines.join(''));
}

/** Forgets the noted processes (they exited while we watched). */
export function forgetCaptureProcesses(dir: string): void {
  try {
    unlinkSync(join(dir, CAPTURE_PIDS_FILE));
  } catch {
    // already gone
  }
}

/** Kills capture processes a previous agent noted and that still run; resolves once they are gone, with their pids. */
export async function reapStaleCapture(dir: string, timeoutMs = 5000): Promise<number[]> {
  let text: string;
  try {
    text = readFileSync(join(dir, CAPTURE_PIDS_FILE), 'utf8');
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const line of text.split('\n')) {
    const [p, start] = line.split(' ');
    const pid = Number(p);
    if (!Number.isInteger(pid) || pid <= 0 || start === undefined || processStartTicks(pid) !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (killed.some((pid) => processStartTicks(pid) !== undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  forgetCaptureProcesses(dir);
  return killed;
}
