import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { requireTool } from '../../test/support/tools.js';
import { checkHash, parsePasswordFile, PasswordFile, passwordEntry, setPassword } from './password-file.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('password file (Mosquitto 2.0 format)', () => {
  it('reads entries mosquitto_passwd made, so one file serves Mosquitto and the embedded broker', async () => {
    const bin = requireTool('mosquitto_passwd', ['/usr/bin/mosquitto_passwd']);
    const dir = cleanup.add(await makeTempDir('nrec-passwd-'), (d) => d.remove());
    const r = spawnSync(bin, ['-c', '-b', dir.file('passwd'), 'dev-1', 's3cret pass'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const users = parsePasswordFile(await readFile(dir.file('passwd'), 'utf8'));
    expect(checkHash(users.get('dev-1')!, 's3cret pass')).toEqual({ ok: true });
    expect(checkHash(users.get('dev-1')!, 's3cret')).toEqual({ ok: false, reason: 'wrong password' });
  });

  it('makes entries that verify, salts each one, and says why an old or odd hash cannot log in', () => {
    const a = passwordEntry('u', 'p');
    expect(a).toMatch(/^u:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/);
    expect(passwordEntry('u', 'p')).not.toBe(a);
    expect(checkHash(a.slice(2), 'p')).toEqual({ ok: true });
    expect(checkHash('$6$abc$def', 'p')).toMatchObject({ ok: false, reason: expect.stringContaining('$6$') });
    expect(checkHash('plain', 'p')).toMatchObject({ ok: false, reason: expect.stringContaining('$7$') });
    expect(() => passwordEntry('a:b', 'p')).toThrow(/username/);
  });

  it('writes mode 0600, replaces a user, and is re-read by a running broker when it changes', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-passwd-'), (d) => d.remove());
    const path = dir.file('passwd');
    await writeFile(path, '# provisioned\n');
    const file = new PasswordFile(path);
    expect(file.check('dev-1', Buffer.from('one'))).toMatchObject({ ok: false, reason: expect.stringContaining('not in') });
    await setPassword(path, 'dev-1', 'one');
    await setPassword(path, 'dev-2', 'two');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(file.check('dev-1', Buffer.from('one'))).toEqual({ ok: true });
    await setPassword(path, 'dev-1', 'uno');
    expect(file.check('dev-1', Buffer.from('one'))).toMatchObject({ ok: false });
    expect(file.check('dev-1', Buffer.from('uno'))).toEqual({ ok: true });
    expect(file.check('dev-2', Buffer.from('two'))).toEqual({ ok: true });
    expect(file.check(undefined, undefined)).toMatchObject({ ok: false, reason: expect.stringContaining('anonymous') });
    expect((await readFile(path, 'utf8')).split('\n').filter((l) => l.startsWith('dev-1:'))).toHaveLength(1);
  });
});
