import { readdirSync, readFileSync } from 'node:fs';

/** Every descendant of a process (children of all its threads, recursively), from /proc. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // gone
    }
    for (const t of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ').filter(Boolean).map(Number)) {
        out.push(c);
        visit(c);
      }
    }
  };
  visit(pid);
  return out;
}

/** Running (a zombie waiting for its parent to reap it counts as gone: it holds nothing any more). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A power cut for a process and everything it started (the agent and its ffmpeg; under strace,
 * strace's tracees): SIGKILL to each descendant, then to `pid` itself, by pid. Resolves once all are gone.
 */
export async function killTree(pid: number, o: { keepRoot?: boolean } = {}): Promise<void> {
  const all = descendants(pid);
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (o.keepRoot !== true) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (all.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
