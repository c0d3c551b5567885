import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface TestDep { apt: string; for: string; provides: string[] }

/** The one list of system packages the tests need (scripts/test-deps.sh installs from it too). */
export function testDeps(): TestDep[] {
  const path = fileURLToPath(new URL('../../scripts/test-deps.json', import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { packages: TestDep[] }).packages;
}

/** How to get a tool: the apt command for the package that provides it, from scripts/test-deps.json. */
export function installHint(name: string): string {
  const deps = testDeps();
  const dep = deps.find((d) => d.provides.some((p) => p === name || p.endsWith(`/${name}`)));
  const pkgs = dep === undefined ? deps.map((d) => d.apt) : [dep.apt];
  return `apt-get install -y ${pkgs.join(' ')} (or run scripts/test-deps.sh, which npm test runs first; the list is scripts/test-deps.json)`;
}

/** Absolute path of a required system tool; throws with install instructions when missing (tests must not skip silently). */
export function requireTool(name: string, candidates: string[] = []): string {
  for (const c of candidates) {
    if (spawnSync('test', ['-x', c]).status === 0) return c;
  }
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  if (r.status === 0 && found !== '') return found;
  throw new Error(`required tool "${name}" is not installed; install it with: ${installHint(name)}`);
}
