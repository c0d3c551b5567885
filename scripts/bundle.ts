#!/usr/bin/env node
// npm run bundle: packs a signed release bundle for the recorder. See docs/recorder.md "Bundles".
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { bundleName, MANIFEST_FILE, sha256File, SIG_FILE, signSums, SUMS_FILE, sumsFor, VERSION_RE, type BundleManifest } from '../agent/update/bundle-format.js';

const run = promisify(execFile);

export interface BundleOptions {
  /** The repository (with dist/ built and node_modules installed). */
  source: string;
  /** Release private key (PEM, Ed25519). */
  keyFile: string;
  outDir: string;
  version?: string;
  /** A Node binary to ship in the bundle (node/bin/node), for recorders without Node >= 20. */
  nodeBinary?: string;
  /** Changes the staged tree before it is hashed and signed (tests make broken releases with it). */
  alter?: (tree: string) => Promise<void>;
}

export interface BuiltBundle {
  file: string;
  sha256: string;
  manifest: BundleManifest;
}

/** Top-level folders of a dependency that are never needed at run time. */
const SKIP_DIRS = new Set(['.github', 'test', 'tests', '__tests__', 'benchmark', 'benchmarks', 'docs', 'example', 'examples', '.bin']);
const SKIP_FILES = /(\.map|\.ts|\.gypi|\.cc|\.cpp|\.o|\.a|\.mk)$/;

/** Builds dist/nrec-<version>-<arch>.tar.gz; see BundleOptions. */
export async function buildBundle(o: BundleOptions): Promise<BuiltBundle> {
  const pkg = JSON.parse(await readFile(join(o.source, 'package.json'), 'utf8')) as { version: string; engines?: { node?: string }; dependencies?: Record<string, string> };
  const version = o.version ?? pkg.version;
  if (!VERSION_RE.test(version)) throw new Error(`version "${version}" is not usable as a release name (letters, digits, . _ + -)`);
  const arch = process.arch;
  const keyPem = await readFile(o.keyFile, 'utf8').catch((err: Error) => {
    throw new Error(`release key ${o.keyFile}: ${err.message} (make one with: node dist/scripts/bundle.js --new-key FILE)`);
  });
  await stat(join(o.source, 'dist', 'cli.js')).catch(() => {
    throw new Error(`${o.source}/dist/cli.js not found: run "npm run build" first`);
  });
  const name = bundleName(version, arch);
  const staging = await mkdtemp(join(tmpdir(), 'nrec-bundle-'));
  try {
    const tree = join(staging, name);
    await mkdir(tree);
    // Compiled JavaScript, without the tests, benchmarks and this script.
    await cp(join(o.source, 'dist'), join(tree, 'dist'), {
      recursive: true,
      filter: (src) => {
        const rel = relative(join(o.source, 'dist'), src).split(sep);
        return !['bench', 'test', 'scripts'].includes(rel[0]) && !src.endsWith('.map');
      },
    });
    await writeFile(join(tree, 'package.json'), `${JSON.stringify({ name: 'nrec', version, type: 'module', private: true, engines: pkg.engines, dependencies: pkg.dependencies }, null, 2)}\n`);
    await copyProductionDeps(o.source, join(tree, 'node_modules'), arch);
    await mkdir(join(tree, 'bin'));
    await writeFile(join(tree, 'bin', 'nrec'), WRAPPER, { mode: 0o755 });
    if (o.nodeBinary !== undefined) {
      await mkdir(join(tree, 'node', 'bin'), { recursive: true });
      await cp(o.nodeBinary, join(tree, 'node', 'bin', 'node'));
      await chmod(join(tree, 'node', 'bin', 'node'), 0o755);
    }
    for (const d of ['systemd', 'udev', 'config']) await cp(join(o.source, 'scripts', d), join(tree, 'scripts', d), { recursive: true });
    await cp(join(o.source, 'scripts', 'install.sh'), join(tree, 'scripts', 'install.sh'));
    await chmod(join(tree, 'scripts', 'install.sh'), 0o755);
    await writeFile(join(tree, 'release-key.pem'), createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString());
    const manifest: BundleManifest = { name: 'nrec', version, arch, node: pkg.engines?.node ?? '>=20', nodeAbi: process.versions.modules, createdAt: new Date().toISOString() };
    await writeFile(join(tree, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    if (o.alter) await o.alter(tree);
    const sums = await sumsFor(tree);
    await writeFile(join(tree, SUMS_FILE), sums);
    await writeFile(join(tree, SIG_FILE), signSums(sums, keyPem));
    await mkdir(o.outDir, { recursive: true });
    const file = join(o.outDir, `${name}.tar.gz`);
    // Reproducible member order and owners; the install sets its own.
    await run('tar', ['-C', staging, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', file, name], { maxBuffer: 16 * 1024 * 1024 });
    return { file, sha256: await sha256File(file), manifest };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The production dependency tree (npm's own view: no dev, no optional: ffmpeg
 * comes from apt on a recorder), copied without sources, build leftovers and
 * other platforms' prebuilt binaries. Native modules must be built for `arch`.
 */
async function copyProductionDeps(source: string, dest: string, arch: string): Promise<void> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--omit=optional', '--all', '--parseable'], { cwd: source, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => {
    // npm ls exits 1 on extraneous packages yet prints the tree; only a missing tree is fatal.
    if (err.stdout) return { stdout: err.stdout };
    throw new Error(`npm ls failed: ${err.stderr ?? ''}`);
  });
  const root = resolve(source, 'node_modules');
  const dirs = stdout.split('\n').filter((l) => l.startsWith(root + sep));
  for (const dir of dirs) {
    const rel = relative(root, dir);
    // Only native packages (binding.gyp) carry build trees and C sources to drop.
    const native = await stat(join(dir, 'binding.gyp')).then(() => true, () => false);
    await cp(dir, join(dest, rel), {
      recursive: true,
      dereference: true,
      filter: (src) => {
        const inner = relative(dir, src).split(sep);
        if (inner[0] === '') return true;
        if (inner[0] === 'node_modules') return false; // nested packages come as their own entries
        if (SKIP_DIRS.has(inner[0])) return false;
        if (inner[0] === 'prebuilds' && inner.length >= 2 && inner[1] !== `linux-${arch}`) return false;
        if (native) {
          if (inner[0] === 'build' && inner.length >= 2 && !(inner[1] === 'Release' && (inner.length === 2 || (inner.length === 3 && inner[2].endsWith('.node') && inner[2] !== 'test_extension.node')))) return false;
          if (inner[0] === 'deps' || inner[0] === 'src') return false;
        }
        return !SKIP_FILES.test(src);
      },
    });
  }
  for (const native of ['better-sqlite3/build/Release/better_sqlite3.node']) {
    await stat(join(dest, native)).catch(() => {
      throw new Error(`native module ${native} missing: run "npm rebuild better-sqlite3" on a machine of the target architecture (docs/recorder.md)`);
    });
  }
}

const WRAPPER = `#!/bin/sh
# nrec from this release: the Node shipped in the bundle when there is one, else node from PATH (>= 20).
here=$(dirname "$(readlink -f "$0")")
node="$here/../node/bin/node"
[ -x "$node" ] || node=\${NREC_NODE:-node}
exec "$node" "$here/../dist/cli.js" "$@"
`;

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { key: { type: 'string' }, out: { type: 'string' }, version: { type: 'string' }, node: { type: 'string' }, 'new-key': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: npm run bundle -- --key RELEASE_KEY.pem [--out DIR] [--version V] [--node NODE_BINARY]\n       node dist/scripts/bundle.js --new-key FILE   (make a release key pair: FILE and FILE.pub)\n');
    return 0;
  }
  if (values['new-key'] !== undefined) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await writeFile(values['new-key'], privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    await writeFile(`${values['new-key']}.pub`, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' });
    process.stdout.write(`release key written: ${values['new-key']} (keep it off the recorders) and ${values['new-key']}.pub\n`);
    return 0;
  }
  const keyFile = values.key ?? process.env.NREC_RELEASE_KEY;
  if (keyFile === undefined) {
    process.stderr.write('bundle: name the release signing key with --key FILE or NREC_RELEASE_KEY (make one with --new-key FILE)\n');
    return 2;
  }
  const b = await buildBundle({ source: process.cwd(), keyFile, outDir: resolve(values.out ?? 'dist'), version: values.version, nodeBinary: values.node });
  process.stdout.write(`${b.file}\nsha256 ${b.sha256}\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  cli(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (err: Error) => { process.stderr.write(`bundle: ${err.message}\n`); process.exitCode = 1; });
}
