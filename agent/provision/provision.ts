import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chown, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from '../media/device-key.js';

const run = promisify(execFile);

export interface ProvisionOptions {
  deviceId: string;
  /** The device's key directory (the agent reads <dataDir>/keys). */
  out: string;
  /** Also make a self-signed client certificate (labs; production certificates come from the platform's CA). */
  selfSigned?: boolean;
  days?: number;
  force?: boolean;
  /** chown what is written to this uid/gid (the service user), when set. */
  owner?: { uid: number; gid: number };
  openssl?: string;
}

export interface ProvisionResult {
  /** Stays on the device. */
  secret: string[];
  /** Goes to the platform. */
  forPlatform: string[];
  certificate?: string;
}

export class ProvisionRefused extends Error {
  override readonly name = 'ProvisionRefused';
}

/** The files provisioning writes under `out`. */
export function provisionPaths(out: string, deviceId: string) {
  return {
    deviceKey: join(out, PRIVATE_KEY_FILE),
    devicePub: join(out, PUBLIC_KEY_FILE),
    tlsDir: join(out, 'tls'),
    tlsKey: join(out, 'tls', 'client.key'),
    tlsCsr: join(out, 'tls', 'client.csr'),
    tlsCert: join(out, 'tls', 'client.crt'),
    platformDir: join(out, 'platform'),
    platformPub: join(out, 'platform', `${deviceId}.pem`),
    platformCsr: join(out, 'platform', `${deviceId}.csr`),
  };
}

/**
 * Creates a device's identity: the Ed25519 evidence key (signs the hash chain
 * of every evidence chunk), a P-256 TLS client key with a CSR whose CN is the
 * device id (the broker's ACL maps the certificate to the topic prefix), and
 * copies of the public halves in platform/, named the way the ingest's key
 * registry wants them (<store>/keys/<deviceId>.pem). Private keys are 0600 in
 * 0700 directories. Existing keys are never replaced without `force`: a new
 * evidence key breaks the chain of trust of everything signed with the old one.
 */
export async function provision(o: ProvisionOptions): Promise<ProvisionResult> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.deviceId)) throw new ProvisionRefused(`device id "${o.deviceId}" is not usable: 1-64 of A-Z a-z 0-9 _ - (it becomes the topic prefix)`);
  const p = provisionPaths(o.out, o.deviceId);
  const existing: string[] = [];
  for (const f of [p.deviceKey, p.tlsKey]) if (await stat(f).then(() => true, () => false)) existing.push(f);
  if (existing.length > 0 && o.force !== true) {
    throw new ProvisionRefused(`keys already exist (${existing.join(', ')}); nothing changed. Replacing them makes the platform reject this device until it is enrolled again: rerun with --force only if that is what you want`);
  }
  if (o.force === true) for (const f of Object.values(p)) if (!f.endsWith('/tls') && !f.endsWith('/platform')) await rm(f, { force: true });
  const openssl = o.openssl ?? 'openssl';
  await mkdir(o.out, { recursive: true, mode: 0o700 });
  await mkdir(p.tlsDir, { recursive: true, mode: 0o700 });
  await mkdir(p.platformDir, { recursive: true, mode: 0o755 });

  const evidence = generateKeyPairSync('ed25519');
  const evidencePub = evidence.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFileAtomic(p.deviceKey, evidence.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  await writeFileAtomic(p.devicePub, evidencePub, 0o644);
  await writeFileAtomic(p.platformPub, evidencePub, 0o644);

  const tls = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFileAtomic(p.tlsKey, tls.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  const subject = `/CN=${o.deviceId}`;
  await ossl(openssl, ['req', '-new', '-key', p.tlsKey, '-subj', subject, '-addext', 'extendedKeyUsage=clientAuth', '-out', p.tlsCsr]);
  await ossl(openssl, ['req', '-in', p.tlsCsr, '-out', p.platformCsr]);
  let certificate: string | undefined;
  if (o.selfSigned === true) {
    await ossl(openssl, ['req', '-x509', '-key', p.tlsKey, '-subj', subject, '-days', String(o.days ?? 365), '-sha256',
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=clientAuth', '-out', p.tlsCert]);
    certificate = p.tlsCert;
  }
  if (o.owner !== undefined) {
    for (const f of [o.out, p.tlsDir, p.deviceKey, p.devicePub, p.tlsKey, p.tlsCsr, ...(certificate ? [certificate] : [])]) await chown(f, o.owner.uid, o.owner.gid);
  }
  return {
    secret: [p.deviceKey, p.tlsKey],
    forPlatform: [p.platformPub, p.platformCsr],
    ...(certificate === undefined ? {} : { certificate }),
  };
}

async function ossl(bin: string, args: string[]): Promise<void> {
  try {
    await run(bin, args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl not found: install it (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}
