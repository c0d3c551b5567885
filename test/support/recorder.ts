import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, type BuiltBundle } from '../../scripts/bundle.js';
import { makeTempDir, type TempDir } from './temp.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from the source tree or from dist/. */
export const repoRoot = here.includes(`${join('dist', 'test')}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
export const installScript = join(repoRoot, 'scripts', 'install.sh');

/** A release key pair made by a test (PEM files in `dir`). */
export async function makeReleaseKey(dir: string, name = 'release'): Promise<{ privateKey: string; publicKey: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const priv = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub.pem`);
  await writeFile(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey: priv, publicKey: pub };
}

/** A real bundle of this repository's compiled dist/ (run `npm run build` first), at `version`. */
export function makeBundle(keyFile: string, outDir: string, version: string, alter?: (tree: string) => Promise<void>): Promise<BuiltBundle> {
  return buildBundle({ source: repoRoot, keyFile, outDir, version, alter });
}

/**
 * An empty root filesystem for `install.sh --root`: just the account files
 * useradd/groupadd need (root, and the groups Raspberry Pi OS has; gpio is
 * left out so the installer must create it). The host's accounts are never touched.
 */
export async function makeInstallRoot(): Promise<TempDir> {
  const root = await makeTempDir('nrec-root-');
  await mkdir(join(root.path, 'etc'));
  await writeFile(join(root.path, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root.path, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\naudio:x:29:\nvideo:x:44:\n');
  await writeFile(join(root.path, 'etc', 'shadow'), 'root:*::::::\n', { mode: 0o600 });
  await writeFile(join(root.path, 'etc', 'gshadow'), 'root:*::\n', { mode: 0o600 });
  return root;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/install.sh with arguments; never throws. */
export function runInstall(args: string[]): RunResult {
  const r = spawnSync('sh', [installScript, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The uid/gid of an account in a root's passwd/group files. */
export function accountIn(passwd: string, name: string): { uid: number; gid: number } | undefined {
  const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
  if (line === undefined) return undefined;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}
