import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * A release bundle is a directory (packed as nrec-<version>-<arch>.tar.gz with
 * that directory at its top) holding:
 *   MANIFEST.json      name, version, arch, node range, build time
 *   SHA256SUMS         `sha256sum` lines for every other file, sorted by path
 *   SHA256SUMS.sig     raw Ed25519 signature of SHA256SUMS by the release key
 * Plain sha256sum/openssl formats, so `install.sh` checks a bundle with the
 * shell tools alone and the agent with node:crypto; both refuse a bundle with
 * a file that is missing, changed or not listed.
 */
export const MANIFEST_FILE = 'MANIFEST.json';
export const SUMS_FILE = 'SHA256SUMS';
export const SIG_FILE = 'SHA256SUMS.sig';

export interface BundleManifest {
  name: 'nrec';
  version: string;
  /** Node's process.arch of the native modules: x64, arm64, arm. */
  arch: string;
  /** The Node versions the bundle runs on (package.json engines). */
  node: string;
  /** Node ABI (process.versions.modules) the native modules were built for; N-API ones run on any. */
  nodeAbi: string;
  createdAt: string;
}

/** Version strings become directory names: no separators, no dot-only names. */
export const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

/** Bundle file name for a version and arch. */
export function bundleName(version: string, arch: string): string {
  return `nrec-${version}-${arch}`;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every regular file under `dir`, as forward-slash relative paths, sorted; refuses symlinks and special files. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
      else throw new Error(`bundle tree holds ${relative(dir, p)}, which is neither a file nor a directory (symlinks are not allowed in a bundle)`);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The SHA256SUMS text for a tree (every file but the sums and their signature). */
export async function sumsFor(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const f of await listFiles(dir)) {
    if (f === SUMS_FILE || f === SIG_FILE) continue;
    lines.push(`${await sha256File(join(dir, f))}  ${f}`);
  }
  return `${lines.join('\n')}\n`;
}

export function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const r = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (r === null) throw new Error(`${SUMS_FILE}: malformed line "${line.slice(0, 80)}"`);
    const path = r[2];
    if (path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new Error(`${SUMS_FILE}: unsafe path "${path}"`);
    m.set(path, r[1]);
  }
  return m;
}

export function signSums(sums: string | Buffer, privateKeyPem: string): Buffer {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`release key is ${key.asymmetricKeyType}, expected ed25519`);
  return sign(null, Buffer.from(sums), key);
}

export function loadPublicKey(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`${what} is not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${what} is ${key.asymmetricKeyType}, expected an ed25519 release key`);
  return key;
}

/**
 * Checks an unpacked bundle directory: the signature over SHA256SUMS by
 * `publicKey`, every listed file's hash, and that no unlisted file is present.
 * Returns the manifest; throws naming the first problem.
 */
export async function verifyTree(dir: string, publicKey: KeyObject): Promise<BundleManifest> {
  const sums = await readFile(join(dir, SUMS_FILE)).catch(() => undefined);
  const sig = await readFile(join(dir, SIG_FILE)).catch(() => undefined);
  if (sums === undefined || sig === undefined) throw new Error(`not a signed bundle: ${SUMS_FILE} or ${SIG_FILE} missing`);
  if (!verify(null, sums, publicKey, sig)) throw new Error('bundle signature does not match the release key: refusing it (was it signed by another key, or changed after signing?)');
  const listed = parseSums(sums.toString('utf8'));
  const present = (await listFiles(dir)).filter((f) => f !== SUMS_FILE && f !== SIG_FILE);
  for (const f of present) if (!listed.has(f)) throw new Error(`bundle holds ${f}, which its signed ${SUMS_FILE} does not list`);
  for (const [f, want] of listed) {
    const st = await lstat(join(dir, f)).catch(() => undefined);
    if (st === undefined || !st.isFile()) throw new Error(`bundle lacks ${f}, listed in ${SUMS_FILE}`);
    if ((await sha256File(join(dir, f))) !== want) throw new Error(`bundle file ${f} does not match its hash in ${SUMS_FILE}`);
  }
  if (!listed.has(MANIFEST_FILE)) throw new Error(`bundle has no ${MANIFEST_FILE}`);
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as BundleManifest;
  if (manifest.name !== 'nrec' || typeof manifest.version !== 'string' || !VERSION_RE.test(manifest.version)) throw new Error(`${MANIFEST_FILE}: not an nrec bundle or a bad version "${String(manifest.version)}"`);
  return manifest;
}
