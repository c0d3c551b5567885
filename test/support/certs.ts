import { spawnSync } from 'node:child_process';
import { chmod, chown, readFile, writeFile } from 'node:fs/promises';
import { makeTempDir, type TempDir } from './temp.js';
import { requireTool } from './tools.js';

/** PEM file paths of one certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A throwaway PKI made by a test: a CA, a server certificate for 127.0.0.1/localhost and client certificates (CN = name). */
export interface TestPki {
  readonly dir: TempDir;
  readonly ca: string;
  readonly server: CertFiles;
  readonly clients: Record<string, CertFiles>;
  /** TLS options for the `mqtt` package / node:tls for a client name (omit the name for a client without a certificate). */
  tlsFor(name?: string): Promise<{ ca: Buffer; cert?: Buffer; key?: Buffer }>;
  remove(): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function openssl(bin: string, cwd: string, args: string[]): void {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** Issues a certificate for `cn` signed by the CA in `dir`; keys are written mode 0600. */
async function issue(bin: string, dir: TempDir, cn: string, ext: string, days = 2): Promise<CertFiles> {
  const key = dir.file(`${cn}.key`);
  const cert = dir.file(`${cn}.crt`);
  const csr = dir.file(`${cn}.csr`);
  const extFile = dir.file(`${cn}.ext`);
  await writeFile(extFile, ext);
  openssl(bin, dir.path, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  await chmod(key, 0o600);
  openssl(bin, dir.path, ['x509', '-req', '-in', csr, '-CA', dir.file('ca.crt'), '-CAkey', dir.file('ca.key'),
    '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
    '-days', String(days), '-sha256', '-out', cert, '-extfile', extFile]);
  return { cert, key };
}

/** Generates a CA, a server certificate (SAN 127.0.0.1, localhost) and one client certificate per name, with openssl, in a fresh temp dir. */
export async function makeTestPki(clientNames: string[], opts: { days?: number } = {}): Promise<TestPki> {
  const days = opts.days ?? 2;
  for (const n of clientNames) {
    if (!NAME_RE.test(n) || n === 'ca' || n === 'server') throw new Error(`client certificate name "${n}" is not usable: use 1-64 of [A-Za-z0-9_.-], not "ca"/"server"`);
  }
  const bin = requireTool('openssl', ['/usr/bin/openssl']);
  const dir = await makeTempDir('nrec-pki-');
  try {
    openssl(bin, dir.path, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', dir.file('ca.key'), '-out', dir.file('ca.crt'), '-days', String(days), '-sha256', '-subj', '/CN=nrec-test-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await chmod(dir.file('ca.key'), 0o600);
    const server = await issue(bin, dir, 'server',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n', days);
    const clients: Record<string, CertFiles> = {};
    for (const n of clientNames) {
      clients[n] = await issue(bin, dir, n, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n', days);
    }
    const ca = dir.file('ca.crt');
    return {
      dir, ca, server, clients,
      async tlsFor(name) {
        const caPem = await readFile(ca);
        if (name === undefined) return { ca: caPem };
        const c = clients[name];
        if (c === undefined) throw new Error(`no client certificate named "${name}" in this PKI (have: ${Object.keys(clients).join(', ')})`);
        return { ca: caPem, cert: await readFile(c.cert), key: await readFile(c.key) };
      },
      remove: () => dir.remove(),
    };
  } catch (err) {
    await dir.remove();
    throw err;
  }
}

/**
 * Makes files readable by the broker. Mosquitto started as root switches to the
 * user "mosquitto" before it loads its keys and ACL, so those files (0600) must
 * belong to that user, and their directory must be traversable, exactly as on
 * a server. Does nothing when the tests do not run as root.
 */
export async function shareWithBroker(dir: string, files: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'mosquitto'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`running as root but there is no "mosquitto" user for the broker to switch to: ${r.stderr.trim()}`);
    return Number(r.stdout.trim());
  };
  const uid = id('-u');
  const gid = id('-g');
  await chmod(dir, 0o711);
  for (const f of files) await chown(f, uid, gid);
}
