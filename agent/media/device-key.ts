import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { ensurePrivateDir, ensurePrivateFile } from '../config/private-files.js';

export const PRIVATE_KEY_FILE = 'device-key.pem';
export const PUBLIC_KEY_FILE = 'device-key.pub.pem';

/** The device's Ed25519 signing key. */
export interface DeviceKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM, what the platform registers for this device. */
  readonly publicKeyPem: string;
  readonly privatePath: string;
  readonly publicPath: string;
  /** True when this call generated the key. */
  readonly created: boolean;
  /** Set when a too-open private key file was tightened (repair mode). */
  readonly repaired?: string;
  /** Every mode problem found and what was done about it (the key file, its directory), for the agent to report. */
  readonly notes: string[];
}

export interface DeviceKeyOptions {
  /**
   * Tighten a private key file readable by group/others to 0600 instead of refusing it, when the
   * agent's user owns it (a file someone else owns is refused either way; see private-files.ts).
   */
  repair?: boolean;
  /** The agent's uid, for the ownership check (tests); default process.getuid(). */
  uid?: number;
}

/**
 * Loads the device key from `dir`, or creates it. The private key must be
 * mode 0600: a key others could read may already be copied, so by default we
 * refuse it and say how to fix it; `repair` tightens it and reports that.
 */
export async function loadOrCreateDeviceKey(dir: string, opts: DeviceKeyOptions = {}): Promise<DeviceKey> {
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const notes: string[] = [];
  // mkdir's mode applies only to a directory it creates; an existing one is tightened here.
  const dirNote = await ensurePrivateDir(dir, 'device key directory', { uid: opts.uid });
  if (dirNote !== undefined) notes.push(dirNote);
  let created = false;
  let repaired: string | undefined;
  let privatePem: string;
  const st = await stat(privatePath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined) {
    const { privateKey } = generateKeyPairSync('ed25519');
    privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFileAtomic(privatePath, privatePem, 0o600);
    created = true;
  } else {
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      const what = `device private key ${privatePath} has mode 0${mode.toString(8)}, readable by others`;
      if (opts.repair !== true) throw new Error(`${what}; it must be 0600 (fix with: chmod 600 ${privatePath}, and consider the key compromised if others had access)`);
      repaired = await ensurePrivateFile(privatePath, 'device private key', { uid: opts.uid });
      if (repaired !== undefined) notes.push(repaired);
    }
    privatePem = await readFile(privatePath, 'utf8');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privatePem);
  } catch (err) {
    throw new Error(`device private key ${privatePath} is not a readable PEM key: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`device private key ${privatePath} is ${privateKey.asymmetricKeyType}, expected ed25519`);
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // The public file is derived, so rewrite it when missing or stale rather than trusting it.
  const existingPub = await readFile(publicPath, 'utf8').catch(() => undefined);
  if (existingPub !== publicKeyPem) await writeFileAtomic(publicPath, publicKeyPem, 0o644);
  return { privateKey, publicKey, publicKeyPem, privatePath, publicPath, created, notes, ...(repaired === undefined ? {} : { repaired }) };
}

