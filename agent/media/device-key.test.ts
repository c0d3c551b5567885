import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { loadOrCreateDeviceKey } from './device-key.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('device key', () => {
  it('creates an Ed25519 key with the private file at mode 0600, and loads the same key again', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-key-'), (d) => d.remove());
    const k = await loadOrCreateDeviceKey(dir.path);
    expect(k.created).toBe(true);
    expect((await stat(k.privatePath)).mode & 0o777).toBe(0o600);
    expect(k.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(await readFile(k.publicPath, 'utf8')).toBe(k.publicKeyPem);
    expect(k.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const again = await loadOrCreateDeviceKey(dir.path);
    expect(again.created).toBe(false);
    expect(again.publicKeyPem).toBe(k.publicKeyPem);
    const sig = sign(null, Buffer.from('x'), again.privateKey);
    expect(verify(null, Buffer.from('x'), k.publicKey, sig)).toBe(true);
  });

  it('refuses a private key readable by others, naming the file and the fix; repair tightens it', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-key-'), (d) => d.remove());
    const k = await loadOrCreateDeviceKey(dir.path);
    await chmod(k.privatePath, 0o644);
    await expect(loadOrCreateDeviceKey(dir.path)).rejects.toThrow(/device-key\.pem has mode 0644.*chmod 600/);
    const repaired = await loadOrCreateDeviceKey(dir.path, { repair: true });
    expect(repaired.repaired).toMatch(/device-key\.pem has mode 0644.*tightened to 0600/);
    expect(repaired.notes).toEqual([repaired.repaired]);
    expect((await stat(k.privatePath)).mode & 0o777).toBe(0o600);
    expect(repaired.publicKeyPem).toBe(k.publicKeyPem);
  });

  it('repair refuses a too-open key it does not own, naming the owner and the chmod; an open key directory is tightened to 0700', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-key-'), (d) => d.remove());
    const k = await loadOrCreateDeviceKey(dir.path);
    await chmod(dir.path, 0o755);
    await chmod(k.privatePath, 0o640);
    const me = process.getuid!();
    // As another uid the file is not ours: refused, never silently used or changed.
    await expect(loadOrCreateDeviceKey(dir.path, { repair: true, uid: me + 1 })).rejects.toThrow(new RegExp(`mode 0640.*belongs to uid ${me}, not to this agent \\(uid ${me + 1}\\).*chmod 600 .*device-key\\.pem`));
    expect((await stat(k.privatePath)).mode & 0o777).toBe(0o640);
    const fixed = await loadOrCreateDeviceKey(dir.path, { repair: true });
    expect((await stat(dir.path)).mode & 0o777).toBe(0o700);
    expect(fixed.notes.join('\n')).toMatch(/device key directory .* has mode 0755, open to others: tightened to 0700/);
    expect((await stat(k.privatePath)).mode & 0o777).toBe(0o600);
  });

  it('rewrites a tampered public key file from the private key', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-key-'), (d) => d.remove());
    const k = await loadOrCreateDeviceKey(dir.path);
    await writeFile(k.publicPath, 'not a key');
    const again = await loadOrCreateDeviceKey(dir.path);
    expect(await readFile(k.publicPath, 'utf8')).toBe(again.publicKeyPem);
  });
});
