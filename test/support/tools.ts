import { spawnSync } from 'node:child_process';

const INSTALL = 'apt-get update && apt-get install -y mosquitto mosquitto-clients socat ffmpeg gpiod strace';

/** Absolute path of a required system tool; throws with install instructions when missing (tests must not skip silently). */
export function requireTool(name: string, candidates: string[] = []): string {
  for (const c of candidates) {
    if (spawnSync('test', ['-x', c]).status === 0) return c;
  }
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  if (r.status === 0 && found !== '') return found;
  throw new Error(`required tool "${name}" is not installed; install it with: ${INSTALL} (or run .ci/run)`);
}
