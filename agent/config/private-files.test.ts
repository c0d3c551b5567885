import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { sessionFromConfig } from '../transport/session-config.js';
import { resolveConfig } from './load.js';
import { ensurePrivateDir, ensurePrivateFile } from './private-files.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('private file modes', () => {
  it('tightens a secret the agent owns to 0600 and says so; refuses one it does not own, naming the file and the chmod', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-modes-'), (d) => d.remove());
    const file = dir.file('mqtt-password');
    await writeFile(file, 'pw');
    await chmod(file, 0o644);
    const me = process.getuid!();
    await expect(ensurePrivateFile(file, 'MQTT password file', { uid: me + 1 })).rejects.toThrow(new RegExp(`MQTT password file .*mqtt-password has mode 0644, readable by others; it must be 0600, and it belongs to uid ${me}.*chmod 600 .*mqtt-password`));
    expect(await mode(file)).toBe(0o644);
    expect(await ensurePrivateFile(file, 'MQTT password file')).toMatch(/mode 0644.*tightened to 0600/);
    expect(await mode(file)).toBe(0o600);
    expect(await ensurePrivateFile(file, 'MQTT password file')).toBeUndefined();
    await expect(ensurePrivateFile(dir.file('missing'), 'MQTT client key file')).rejects.toThrow(/MQTT client key file .*missing cannot be read/);
  });

  it('tightens an existing data directory to 0700', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-modes-'), (d) => d.remove());
    const data = dir.file('data');
    await mkdir(data, { mode: 0o755 });
    await chmod(data, 0o755);
    expect(await ensurePrivateDir(data, 'data directory')).toMatch(/mode 0755, open to others: tightened to 0700/);
    expect(await mode(data)).toBe(0o700);
    await chmod(data, 0o750);
    expect(await ensurePrivateDir(data, 'data directory', { uid: process.getuid!() + 1 })).toMatch(/belongs to uid .*chmod 700/);
  });

  it('the MQTT session settings check the password and key files before reading them', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-modes-'), (d) => d.remove());
    const pw = dir.file('pw');
    const key = dir.file('key.pem');
    await writeFile(pw, 'secret\n');
    await writeFile(key, 'not really a key');
    await chmod(pw, 0o640);
    await chmod(key, 0o604);
    const notes: string[] = [];
    const s = await sessionFromConfig(resolveConfig({ deviceId: 'dev-1', mqtt: { passwordFile: pw } }), (n) => notes.push(n));
    expect(s.password).toBe('secret');
    // A key file needs a TLS URL and its certificate to pass the config; its mode is checked by the same rule.
    const keyNote = await ensurePrivateFile(key, 'MQTT client key file (mqtt.keyFile)');
    expect([...notes, keyNote]).toEqual([expect.stringMatching(/MQTT password file \(mqtt\.passwordFile\) .* tightened to 0600/), expect.stringMatching(/MQTT client key file \(mqtt\.keyFile\) .* tightened to 0600/)]);
    expect([await mode(pw), await mode(key)]).toEqual([0o600, 0o600]);
  });
});
