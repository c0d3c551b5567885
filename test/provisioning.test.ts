// A fresh Debian machine runs the README's commands and nothing else: `npm test`
// provisions the system packages its tests need from one list, .ci/run runs
// exactly the README's commands, and the README links only to files a user has.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, makeTempDir } from './support/index.js';
import { installHint, testDeps } from './support/tools.js';

const root = resolve(import.meta.dirname, '..');
const script = join(root, 'scripts', 'test-deps.sh');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/**
 * Runs scripts/test-deps.sh with a list of made-up packages and a PATH holding
 * only the basics, a fake apt-get that records its arguments, and the tools
 * named in `present`.
 */
async function runDeps(present: string[], env: Record<string, string> = {}) {
  const dir = cleanup.add(await makeTempDir('nrec-deps-'), (d) => d.remove());
  const bin = dir.file('bin');
  await import('node:fs/promises').then((fs) => fs.mkdir(bin));
  for (const tool of ['node', 'id', 'dirname', 'env']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    await symlink(found === '' ? process.execPath : found, join(bin, tool));
  }
  const fake = async (name: string, body: string) => {
    await writeFile(join(bin, name), `#!/bin/sh\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  };
  await fake('apt-get', `echo "apt-get $*" >> "${dir.file('apt.log')}"`);
  for (const t of present) await fake(t, 'exit 0');
  await writeFile(dir.file('deps.json'), JSON.stringify({ packages: [
    { apt: 'pkg-a', for: 'a', provides: ['tool-a'] },
    { apt: 'pkg-b', for: 'b', provides: ['tool-b', '/nonexistent/nrec-*/tool-b'] },
    { apt: 'pkg-c', for: 'c', provides: ['tool-c'] },
  ] }));
  const r = spawnSync('/bin/bash', [script], { encoding: 'utf8', env: { PATH: bin, NREC_TEST_DEPS_LIST: dir.file('deps.json'), ...env } });
  const apt = existsSync(dir.file('apt.log')) ? (await readFile(dir.file('apt.log'), 'utf8')).trim().split('\n') : [];
  return { code: r.status, stderr: r.stderr, apt };
}

describe('scripts/test-deps.sh', () => {
  it('does nothing when every package is present', async () => {
    expect(await runDeps(['tool-a', 'tool-b', 'tool-c'])).toEqual({ code: 0, stderr: '', apt: [] });
  });

  it('installs exactly the missing packages with apt-get as root; otherwise (no sudo here) stops with the command', async () => {
    const r = await runDeps(['tool-b']);
    if (process.getuid?.() === 0) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.apt).toEqual(['apt-get update -qq', 'apt-get install -y --no-install-recommends pkg-a pkg-c -qq']);
      expect(r.stderr).toBe('test-deps: installing pkg-a pkg-c\n');
    } else {
      expect(r).toEqual({ code: 1, apt: [], stderr: 'test-deps: missing system packages: pkg-a pkg-c; install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends pkg-a pkg-c\n' });
    }
  });

  it('when told only to check, stops at once with the one command to run', async () => {
    const r = await runDeps(['tool-a'], { NREC_TEST_DEPS: 'check' });
    expect(r).toEqual({ code: 1, apt: [], stderr: 'test-deps: missing system packages: pkg-b pkg-c; install them with: sudo apt-get install -y --no-install-recommends pkg-b pkg-c\n' });
  });

  it('the real list covers every tool the tests require, and the missing-tool hint comes from it', async () => {
    const provided = new Set(testDeps().flatMap((d) => d.provides.map((p) => p.split('/').at(-1))));
    for (const tool of ['mosquitto', 'socat', 'ffmpeg', 'ffprobe', 'openssl', 'gpiomon']) expect(provided, tool).toContain(tool);
    expect(installHint('ffprobe')).toMatch(/^apt-get install -y ffmpeg \(or run scripts\/test-deps\.sh/);
    expect(installHint('mosquitto')).toMatch(/^apt-get install -y mosquitto /);
  });

  it('npm test provisions first, and the same script is what the CI runs through it', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toMatch(/^bash scripts\/test-deps\.sh && /);
  });
});

describe('package-lock.json', () => {
  it('matches package.json, so npm install has nothing to rewrite at the top level', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { name: string; version: string; packages: Record<string, Record<string, unknown>> };
    expect([lock.name, lock.version]).toEqual([pkg.name, pkg.version]);
    const top = lock.packages[''];
    for (const field of ['name', 'version', 'license', 'engines', 'bin', 'dependencies', 'devDependencies', 'optionalDependencies']) expect(top[field], field).toEqual(pkg[field]);
    const declared = { ...(pkg.dependencies as object), ...(pkg.devDependencies as object), ...(pkg.optionalDependencies as object) };
    for (const name of Object.keys(declared)) expect(lock.packages[`node_modules/${name}`], `${name} is not in the lock`).toBeDefined();
  });
});

describe('the README and .ci/run', () => {
  it('.ci/run runs exactly the README\'s commands: npm install, then npm test', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const first = readme.split(/^## /m)[1] ?? '';
    expect(first.split('\n')[0]).toBe('Two commands');
    const shown = [...first.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n')).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    expect(shown).toEqual(['npm install', 'npm run sim', 'npm test']);
    const ci = (await readFile(join(root, '.ci', 'run'), 'utf8')).split('\n').map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
    expect(ci).toEqual(['npm install', 'npm test']);
  });

  it('README and docs/ link only to files inside the repository that exist', async () => {
    const docs = ['README.md', ...(await import('node:fs/promises').then((fs) => fs.readdir(join(root, 'docs')))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    for (const doc of docs) {
      const text = await readFile(join(root, doc), 'utf8');
      const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^(https?:|mailto:|#)/.test(t));
      for (const t of targets) {
        const path = resolve(dirname(join(root, doc)), t.split('#')[0]);
        expect(relative(root, path).startsWith('..'), `${doc} links outside the repository: ${t}`).toBe(false);
        expect(existsSync(path), `${doc} links to a missing file: ${t}`).toBe(true);
      }
      // A path in backticks that leaves the repository is a link in all but name.
      expect(text, doc).not.toMatch(/`\.\.\/[^`]*`/);
    }
  });
});
