import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * Finding and ending libgpiod tools left behind by an agent that died without
 * running its shutdown (kill -9, OOM, a crash): they are reparented, keep the
 * line requested, and the next agent gets EBUSY. A gpiomon notices only when
 * it next writes an edge into the dead pipe, so the first press after the
 * crash is lost; a gpioset never notices. Under systemd the cgroup is killed
 * with the service, but nothing else does that, so the agent cleans up itself,
 * and only processes running exactly the command it would run.
 */

/**
 * True if `cmdline` (argv as /proc shows it) runs `exe` with exactly `args`,
 * directly or through an interpreter (a `#!` script shows as `node /path/gpiomon …`).
 * A bare `exe` (PATH lookup) matches any directory; a path must match exactly.
 */
export function runsCommand(cmdline: readonly string[], exe: string, args: readonly string[]): boolean {
  const bare = !exe.includes('/');
  for (let k = 0; k < cmdline.length; k++) {
    const a = cmdline[k];
    if (a !== exe && !(bare && basename(a) === exe)) continue;
    const rest = cmdline.slice(k + 1);
    if (rest.length === args.length && rest.every((x, i) => x === args[i])) return true;
  }
  return false;
}

/** Pids (other than ours) of processes running `exe` with one of `argvs`. */
export async function findToolProcesses(exe: string, argvs: readonly (readonly string[])[], procRoot = '/proc'): Promise<number[]> {
  const pids = (await readdir(procRoot)).filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => p !== process.pid);
  const found: number[] = [];
  for (const pid of pids) {
    // Processes come and go while we look: an unreadable entry is simply not a match.
    const raw = await readFile(join(procRoot, String(pid), 'cmdline'), 'utf8').catch(() => '');
    if (raw === '') continue;
    const cmdline = raw.replace(/\0$/, '').split('\0');
    if (argvs.some((args) => runsCommand(cmdline, exe, args))) found.push(pid);
  }
  return found;
}

/** True while `pid` runs. A zombie counts as gone: an init that reaps late (some container inits) would otherwise keep it "alive". */
export function isRunning(pid: number, procRoot = '/proc'): boolean {
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves once every pid is gone (or after another `graceMs`). */
export async function endProcesses(pids: readonly number[], graceMs = 1000, procRoot = '/proc'): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone, or not ours to signal: nothing more we can do about it here.
      }
    }
  };
  const waitGone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (pids.some((p) => isRunning(p, procRoot))) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  };
  signal('SIGTERM');
  if (await waitGone(graceMs)) return;
  signal('SIGKILL');
  await waitGone(graceMs);
}
