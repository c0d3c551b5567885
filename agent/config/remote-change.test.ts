import { chmod, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { requireTool } from '../../test/support/tools.js';
import { resolveConfig } from './load.js';
import { brokerUrlProblem, preflightConfig } from './preflight.js';
import { dangerousKeys, flattenKeys, mergePatch, redactUrlCredentials, restartKeys } from './remote-change.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('remote config changes', () => {
  it('names the dangerous settings of a patch', () => {
    expect(dangerousKeys(flattenKeys({ mqtt: { url: 'x' }, gps: { intervalS: 2, path: '/dev/x' }, button: { enabled: false }, media: { ffmpegPath: '/bin/sh', fps: 5 }, deviceId: 'd', dataDir: '/x', logLevel: 'debug' })))
      .toEqual(['mqtt.url', 'gps.path', 'button.enabled', 'media.ffmpegPath', 'deviceId', 'dataDir']);
    // Replacing a whole section is as dangerous as any key in it.
    expect(dangerousKeys(flattenKeys({ mqtt: {} }))).toEqual(['mqtt']);
    expect(dangerousKeys(flattenKeys({ media: { fps: 5 }, gps: { intervalS: 2 } }))).toEqual([]);
    expect(restartKeys(['gps.intervalS', 'media.fps'])).toEqual(['media.fps']);
  });

  it('merges a patch deeply and lists its leaves', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2] })).toEqual({ a: { b: 1, c: 3 }, d: [2] });
    expect(flattenKeys({ a: { b: 1, c: { d: 2 } }, e: [1] })).toEqual(['a.b', 'a.c.d', 'e']);
  });

  it('redacts user and password in a URL, and shows no URL it cannot parse', () => {
    expect(redactUrlCredentials('mqtts://nurse:s3cret@broker:8883')).toBe('mqtts://redacted:redacted@broker:8883');
    expect(redactUrlCredentials('mqtt://token@broker:1883')).toBe('mqtt://redacted@broker:1883');
    expect(redactUrlCredentials('mqtt://127.0.0.1:1883')).toBe('mqtt://127.0.0.1:1883');
    expect(redactUrlCredentials('u:p@not a url')).toBe('(not a valid URL)');
  });

  it('refuses a broker URL that cannot work', () => {
    expect(brokerUrlProblem('not a url')).toMatch(/not a URL/);
    expect(brokerUrlProblem('http://broker:80')).toMatch(/scheme "http:"/);
    expect(brokerUrlProblem('mqtts://broker.example:8883')).toBeUndefined();
  });

  it('preflight: ffmpeg must be ffmpeg, secrets 0600, only what changed is checked', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-preflight-'), (d) => d.remove());
    const base = { deviceId: 'dev-1', dataDir: dir.path };
    const ffmpeg = requireTool('ffmpeg');
    expect(await preflightConfig(resolveConfig({ ...base, media: { ffmpegPath: ffmpeg } }), ['media.ffmpegPath'])).toEqual([]);
    for (const fake of ['/bin/sh', '/bin/bash', '/bin/true', 'ffmpeg']) {
      expect((await preflightConfig(resolveConfig({ ...base, media: { ffmpegPath: fake } }), ['media.ffmpegPath'])).join(), fake).toMatch(/media\.ffmpegPath: /);
    }
    const secret = dir.file('password');
    await writeFile(secret, 'pw');
    await chmod(secret, 0o644);
    const withSecret = resolveConfig({ ...base, mqtt: { passwordFile: secret } });
    expect((await preflightConfig(withSecret, ['mqtt.passwordFile'])).join()).toMatch(/mode 0644; a secret must be 0600 \(chmod 600 /);
    expect(await preflightConfig(withSecret, ['gps.intervalS'])).toEqual([]);
    // A missing file is already refused by the config check itself, before any preflight (config.set runs both).
    expect(() => resolveConfig({ ...base, mqtt: { url: 'mqtts://127.0.0.1:8883', caFile: dir.file('missing.pem') } })).toThrow(/\/mqtt\/caFile: .*missing\.pem does not exist/);
    expect((await preflightConfig(resolveConfig({ ...base, dataDir: 'relative/dir' }), ['dataDir'])).join()).toMatch(/must be an absolute path/);
  });
});
