import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, requireTool, type TempDir } from './support/index.js';
import { accountIn, makeBundle, makeInstallRoot, makeReleaseKey, runInstall } from './support/recorder.js';

// install.sh into a temp root (as root, which the tests are): twice, an upgrade, a rollback, refusals, an uninstall.
describe('install.sh --root', () => {
  let work: TempDir;
  let root: TempDir;
  let key: { privateKey: string; publicKey: string };
  let v1: string;
  let v2: string;
  const mode = async (p: string) => (await stat(p)).mode & 0o7777;

  beforeAll(async () => {
    requireTool('openssl', ['/usr/bin/openssl']);
    requireTool('sha256sum');
    work = await makeTempDir('nrec-install-');
    root = await makeInstallRoot();
    key = await makeReleaseKey(work.path);
    v1 = (await makeBundle(key.privateKey, work.path, '1.0.0')).file;
    v2 = (await makeBundle(key.privateKey, work.path, '1.1.0')).file;
  }, 120_000);
  afterAll(async () => {
    await root?.remove();
    await work?.remove();
  });

  it('installs a release with the layout, account and file modes it documents, and again with no change', async () => {
    const R = root.path;
    const first = runInstall(['--root', R, v1]);
    expect(first.status, first.stderr).toBe(0);
    expect(await readlink(join(R, 'opt/nrec/current'))).toBe('releases/1.0.0');
    expect(existsSync(join(R, 'opt/nrec/previous'))).toBe(false);
    // The system user, in the hardware groups; gpio did not exist and was created.
    const passwd = await readFile(join(R, 'etc/passwd'), 'utf8');
    const nrec = accountIn(passwd, 'nrec');
    expect(nrec).toBeDefined();
    const group = await readFile(join(R, 'etc/group'), 'utf8');
    for (const g of ['dialout', 'gpio', 'video', 'audio']) expect(group).toMatch(new RegExp(`^${g}:x:\\d+:(.*,)?nrec(,|$)`, 'm'));
    // State owned by nrec, keys closed; config readable by the service group only; releases read-only to nrec.
    const st = await stat(join(R, 'var/lib/nrec'));
    expect([st.uid, st.gid]).toEqual([nrec!.uid, nrec!.gid]);
    expect(await mode(join(R, 'var/lib/nrec'))).toBe(0o750);
    expect(await mode(join(R, 'var/lib/nrec/keys'))).toBe(0o700);
    expect(await mode(join(R, 'etc/nrec/config.json'))).toBe(0o640);
    expect((await stat(join(R, 'etc/nrec/config.json'))).gid).toBe(nrec!.gid);
    const cli = join(R, 'opt/nrec/releases/1.0.0/dist/cli.js');
    expect((await stat(cli)).uid).toBe(0);
    expect((await mode(cli)) & 0o022).toBe(0);
    expect(await mode(join(R, 'opt/nrec/releases/1.0.0/bin/nrec'))).toBe(0o755);
    expect(await readFile(join(R, 'etc/nrec/config.json'), 'utf8')).toContain('"deviceId": "CHANGE-ME"');
    expect(await readFile(join(R, 'etc/nrec/release-key.pem'), 'utf8')).toBe(await readFile(key.publicKey, 'utf8'));
    for (const u of ['nrec.service', 'nrec-update.service', 'nrec-update.path']) expect(existsSync(join(R, 'etc/systemd/system', u))).toBe(true);
    expect(await readFile(join(R, 'etc/udev/rules.d/99-nrec-gps.rules'), 'utf8')).toContain('SYMLINK+="nrec-gps"');
    expect(await readlink(join(R, 'usr/local/bin/nrec'))).toBe('/opt/nrec/current/bin/nrec');
    // The installed release runs.
    const help = spawnSync(join(R, 'opt/nrec/current/bin/nrec'), ['help'], { encoding: 'utf8' });
    expect(help.stdout).toContain('agent');

    const snapshot = async () => ({ passwd: await readFile(join(R, 'etc/passwd'), 'utf8'), group: await readFile(join(R, 'etc/group'), 'utf8'), config: await readFile(join(R, 'etc/nrec/config.json'), 'utf8'), current: await readlink(join(R, 'opt/nrec/current')) });
    const before = await snapshot();
    const again = runInstall(['--root', R, v1]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('already installed');
    expect(await snapshot()).toEqual(before);
    expect(existsSync(join(R, 'opt/nrec/previous'))).toBe(false);
  });

  it('upgrades keeping the config and the state, and rolls back by hand', async () => {
    const R = root.path;
    const cfg = join(R, 'etc/nrec/config.json');
    const edited = (await readFile(cfg, 'utf8')).replace('CHANGE-ME', 'rec-0042');
    await writeFile(cfg, edited);
    // State as a running agent leaves it: an outbox and keys (one left too open, which the install tightens).
    await writeFile(join(R, 'var/lib/nrec/outbox.db'), 'queued messages');
    await writeFile(join(R, 'var/lib/nrec/keys/device-key.pem'), 'private', { mode: 0o600 });
    await mkdir(join(R, 'var/lib/nrec/keys/tls'), { recursive: true });
    await writeFile(join(R, 'var/lib/nrec/keys/tls/client.key'), 'tls private', { mode: 0o644 });

    const up = runInstall(['--root', R, v2]);
    expect(up.status, up.stderr).toBe(0);
    expect(await readlink(join(R, 'opt/nrec/current'))).toBe('releases/1.1.0');
    expect(await readlink(join(R, 'opt/nrec/previous'))).toBe('releases/1.0.0');
    expect(await readFile(cfg, 'utf8')).toBe(edited);
    expect(await readFile(join(R, 'var/lib/nrec/outbox.db'), 'utf8')).toBe('queued messages');
    expect(await mode(join(R, 'var/lib/nrec/keys/device-key.pem'))).toBe(0o600);
    expect(await mode(join(R, 'var/lib/nrec/keys/tls/client.key'))).toBe(0o600);

    const back = runInstall(['--root', R, '--rollback']);
    expect(back.status, back.stderr).toBe(0);
    expect(await readlink(join(R, 'opt/nrec/current'))).toBe('releases/1.0.0');
    expect(await readlink(join(R, 'opt/nrec/previous'))).toBe('releases/1.1.0');
    const state = JSON.parse(await readFile(join(R, 'var/lib/nrec/update/state.json'), 'utf8')) as Record<string, unknown>;
    expect(state).toMatchObject({ phase: 'rolled-back', release: '1.1.0', previous: '1.0.0' });
    expect(await readFile(cfg, 'utf8')).toBe(edited);
    expect(await readFile(join(R, 'var/lib/nrec/outbox.db'), 'utf8')).toBe('queued messages');
  });

  it('refuses a bundle signed by another key, or changed after signing, before anything changes', async () => {
    const R = root.path;
    const other = await makeReleaseKey(work.path, 'other');
    const foreign = (await makeBundle(other.privateKey, join(work.path, 'foreign'), '9.0.0')).file;
    const r1 = runInstall(['--root', R, foreign]);
    expect(r1.status).not.toBe(0);
    expect(r1.stderr).toContain('signature does not match');
    // Tampered: one file changed after signing, repacked.
    const t = await mkdtemp(join(work.path, 'tamper-'));
    spawnSync('tar', ['-xzf', v2, '-C', t]);
    await writeFile(join(t, 'nrec-1.1.0-x64', 'dist', 'cli.js'), 'process.exit(0)\n');
    await cp(join(t, 'nrec-1.1.0-x64'), join(t, 'nrec-9.1.0-x64'), { recursive: true });
    await rm(join(t, 'nrec-1.1.0-x64'), { recursive: true });
    const tampered = join(work.path, 'tampered.tar.gz');
    spawnSync('tar', ['-C', t, '-czf', tampered, 'nrec-9.1.0-x64']);
    const r2 = runInstall(['--root', R, tampered]);
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toContain('does not match SHA256SUMS');
    expect(await readlink(join(R, 'opt/nrec/current'))).toBe('releases/1.0.0');
    const releases = spawnSync('ls', ['-A', join(R, 'opt/nrec/releases')], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(releases.sort()).toEqual(['1.0.0', '1.1.0']);
  });

  it('uninstalls the software and keeps config and state unless purged', async () => {
    const R = root.path;
    const r = runInstall(['--root', R, '--uninstall']);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(R, 'opt/nrec'))).toBe(false);
    expect(existsSync(join(R, 'etc/systemd/system/nrec.service'))).toBe(false);
    expect(existsSync(join(R, 'etc/nrec/config.json'))).toBe(true);
    expect(existsSync(join(R, 'var/lib/nrec/outbox.db'))).toBe(true);
    const p = runInstall(['--root', R, '--uninstall', '--purge']);
    expect(p.status, p.stderr).toBe(0);
    expect(existsSync(join(R, 'var/lib/nrec'))).toBe(false);
    expect(accountIn(await readFile(join(R, 'etc/passwd'), 'utf8'), 'nrec')).toBeUndefined();
  });
});
