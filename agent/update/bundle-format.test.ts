import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPublicKey, MANIFEST_FILE, SIG_FILE, signSums, SUMS_FILE, sumsFor, verifyTree } from './bundle-format.js';
import { checkTarball } from './unpack.js';

const keys = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pub: loadPublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'test key') };
};

describe('bundle signature and manifest', () => {
  let dir: string;
  let tree: string;
  const k = keys();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrec-bf-'));
    tree = join(dir, 'nrec-1.0.0-x64');
    await mkdir(join(tree, 'dist'), { recursive: true });
    await writeFile(join(tree, 'dist', 'cli.js'), 'console.log(1)\n');
    await writeFile(join(tree, MANIFEST_FILE), JSON.stringify({ name: 'nrec', version: '1.0.0', arch: 'x64', node: '>=20', nodeAbi: '115', createdAt: '' }));
    const sums = await sumsFor(tree);
    await writeFile(join(tree, SUMS_FILE), sums);
    await writeFile(join(tree, SIG_FILE), signSums(sums, k.priv));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('accepts the signed tree and returns its manifest', async () => {
    expect((await verifyTree(tree, k.pub)).version).toBe('1.0.0');
  });

  it('refuses another key, a changed file, an added file and a missing file', async () => {
    await expect(verifyTree(tree, keys().pub)).rejects.toThrow(/signature does not match/);
    await writeFile(join(tree, 'dist', 'extra.js'), 'x');
    await expect(verifyTree(tree, k.pub)).rejects.toThrow(/does not list/);
    await rm(join(tree, 'dist', 'extra.js'));
    await writeFile(join(tree, 'dist', 'cli.js'), 'console.log(2)\n');
    await expect(verifyTree(tree, k.pub)).rejects.toThrow(/does not match its hash/);
    await rm(join(tree, 'dist', 'cli.js'));
    await expect(verifyTree(tree, k.pub)).rejects.toThrow(/lacks dist\/cli.js/);
  });

  it('refuses an archive with a link before extracting it', async () => {
    await symlink('/etc/passwd', join(tree, 'dist', 'link'));
    const tar = join(dir, 'b.tar.gz');
    execFileSync('tar', ['-C', dir, '-czf', tar, 'nrec-1.0.0-x64']);
    await expect(checkTarball(tar)).rejects.toThrow(/not a plain file or directory/);
  });

  it('refuses an archive with members outside its top directory', async () => {
    await mkdir(join(dir, 'other'));
    await writeFile(join(dir, 'other', 'x'), 'x');
    const tar = join(dir, 'c.tar.gz');
    execFileSync('tar', ['-C', dir, '-czf', tar, 'nrec-1.0.0-x64', 'other']);
    await expect(checkTarball(tar)).rejects.toThrow(/outside the top directory/);
  });
});
