import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirKeyRing } from '../platform/ingest/media-handler.js';
import { cliPath, makeTempDir, requireTool, type TempDir } from './support/index.js';

const nrec = (args: string[]) => spawnSync(process.execPath, [cliPath(), ...args], { encoding: 'utf8' });

describe('nrec provision', () => {
  let dir: TempDir;
  beforeAll(async () => {
    requireTool('openssl', ['/usr/bin/openssl']);
    dir = await makeTempDir('nrec-prov-');
  });
  afterAll(() => dir?.remove());

  it('creates the evidence key, a TLS key + CSR for the device id, and the platform files; refuses a second run without --force', async () => {
    const out = dir.file('keys');
    const r = nrec(['provision', '--device-id', 'rec-0042', '--out', out, '--self-signed']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Stays on this device/);
    expect(r.stdout).toMatch(/Goes to the platform/);
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    expect(await mode(join(out, 'device-key.pem'))).toBe(0o600);
    expect(await mode(join(out, 'tls/client.key'))).toBe(0o600);
    expect(await mode(out)).toBe(0o700);
    expect(createPrivateKey(await readFile(join(out, 'device-key.pem'))).asymmetricKeyType).toBe('ed25519');
    const subject = spawnSync('openssl', ['req', '-in', join(out, 'platform/rec-0042.csr'), '-noout', '-subject', '-verify'], { encoding: 'utf8' });
    expect(subject.status, subject.stderr).toBe(0);
    expect(subject.stdout).toMatch(/CN\s*=\s*rec-0042/);
    const cert = new X509Certificate(await readFile(join(out, 'tls/client.crt')));
    expect(cert.subject).toContain('CN=rec-0042');
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(join(out, 'tls/client.key'))))).toBe(true);
    // The public key file is the one the ingest's registry reads from <store>/keys/.
    const ring = new DirKeyRing(join(out, 'platform'));
    expect(ring.get('rec-0042')?.asymmetricKeyType).toBe('ed25519');
    expect(await readFile(join(out, 'platform/rec-0042.pem'), 'utf8')).toBe(await readFile(join(out, 'device-key.pub.pem'), 'utf8'));

    const before = await readFile(join(out, 'device-key.pem'), 'utf8');
    const again = nrec(['provision', '--device-id', 'rec-0042', '--out', out]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exist');
    expect(again.stderr).toContain('--force');
    expect(await readFile(join(out, 'device-key.pem'), 'utf8')).toBe(before);

    const forced = nrec(['provision', '--device-id', 'rec-0042', '--out', out, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(await readFile(join(out, 'device-key.pem'), 'utf8')).not.toBe(before);
  });

  it('refuses a device id that cannot be a topic level', () => {
    const r = nrec(['provision', '--device-id', 'a/b', '--out', dir.file('bad')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not usable');
  });
});
