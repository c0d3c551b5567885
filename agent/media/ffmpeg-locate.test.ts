import { symlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { requireTool } from '../../test/support/tools.js';
import { detectVideoEncoder, locateFfmpeg, locateFfprobe } from './ffmpeg-locate.js';

const ffmpeg = requireTool('ffmpeg');
const ffprobe = requireTool('ffprobe');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('locateFfmpeg', () => {
  it('prefers the config path, then FFMPEG_PATH, then PATH, and reports the version line', async () => {
    const env = { PATH: dirname(ffmpeg), FFMPEG_PATH: ffmpeg };
    expect(await locateFfmpeg({ configPath: ffmpeg, env })).toMatchObject({ path: ffmpeg, source: 'config', version: expect.stringMatching(/^ffmpeg version /) });
    expect(await locateFfmpeg({ env })).toMatchObject({ path: ffmpeg, source: 'env' });
    expect(await locateFfmpeg({ env: { PATH: `/nonexistent:${dirname(ffmpeg)}` } })).toMatchObject({ path: ffmpeg, source: 'path' });
  });

  it('falls back to the optional npm package when nothing is on PATH', async () => {
    const found = await locateFfmpeg({ env: { PATH: '' } });
    expect(found.source).toBe('npm');
    expect(found.path).toMatch(/@ffmpeg-installer/);
    expect(found.version).toMatch(/^ffmpeg version /);
  });

  it('says what it tried when there is no ffmpeg anywhere, and refuses a broken configured path', async () => {
    const absent = () => Promise.reject(new Error('Cannot find module'));
    await expect(locateFfmpeg({ env: { PATH: '/nonexistent' }, importInstaller: absent })).rejects.toThrow(/ffmpeg not found; tried .*@ffmpeg-installer\/ffmpeg \(not installed\).*FFMPEG_PATH/);
    await expect(locateFfmpeg({ configPath: '/nonexistent/ffmpeg', env: { PATH: dirname(ffmpeg) } })).rejects.toThrow(/config path for ffmpeg "\/nonexistent\/ffmpeg" is not a working ffmpeg/);
    // Programs that answer -version but are not ffmpeg (a shell) are refused too.
    for (const other of ['/bin/bash', '/bin/true']) {
      await expect(locateFfmpeg({ configPath: other, env: { PATH: dirname(ffmpeg) } }), other).rejects.toThrow(/is not a working ffmpeg .*another program/);
    }
  });

  it('finds ffprobe on PATH, or next to the ffmpeg in use', async () => {
    const onPath = await locateFfprobe({ path: ffmpeg, source: 'path', version: '' }, { env: { PATH: dirname(ffprobe) } });
    expect(onPath).toMatchObject({ path: ffprobe, source: 'path', version: expect.stringMatching(/^ffprobe version /) });
    const dir = cleanup.add(await makeTempDir('nrec-ff-'), (d) => d.remove());
    await symlink(ffmpeg, dir.file('ffmpeg'));
    await symlink(ffprobe, dir.file('ffprobe'));
    const beside = await locateFfprobe({ path: dir.file('ffmpeg'), source: 'config', version: '' }, { env: { PATH: '' } });
    expect(beside).toMatchObject({ path: dir.file('ffprobe'), source: 'beside-ffmpeg' });
    const absent = () => Promise.reject(new Error('Cannot find module'));
    await expect(locateFfprobe({ path: '/nonexistent/ffmpeg', source: 'config', version: '' }, { env: { PATH: '' }, importInstaller: absent })).rejects.toThrow(/ffprobe not found; tried .*@ffprobe-installer\/ffprobe \(not installed\)/);
  });

  it('finds ffprobe like ffmpeg: config path, FFPROBE_PATH, then the npm package when nothing is on PATH', async () => {
    // A fresh `npm install` without apt's ffmpeg: ffmpeg from its npm package, which has no ffprobe beside it.
    const npmFfmpeg = await locateFfmpeg({ env: { PATH: '' } });
    const found = await locateFfprobe(npmFfmpeg, { env: { PATH: '' } });
    expect(found).toMatchObject({ source: 'npm', path: expect.stringMatching(/@ffprobe-installer/), version: expect.stringMatching(/^ffprobe version /) });
    expect(await locateFfprobe(npmFfmpeg, { configPath: ffprobe, env: { PATH: '' } })).toMatchObject({ path: ffprobe, source: 'config' });
    expect(await locateFfprobe(npmFfmpeg, { env: { PATH: '', FFPROBE_PATH: ffprobe } })).toMatchObject({ path: ffprobe, source: 'env' });
    await expect(locateFfprobe(npmFfmpeg, { env: { PATH: '', FFPROBE_PATH: '/nonexistent/ffprobe' } })).rejects.toThrow(/FFPROBE_PATH "\/nonexistent\/ffprobe" is not a working ffprobe/);
  });
});

describe('detectVideoEncoder', () => {
  it('uses libx264 unless the hardware encoder is listed and actually encodes', async () => {
    // This machine's ffmpeg may list h264_v4l2m2m without having the device; either way the pick must encode.
    const enc = await detectVideoEncoder(ffmpeg);
    expect(['libx264', 'h264_v4l2m2m']).toContain(enc);
    const listed = await new Promise<string>((resolve) => {
      import('node:child_process').then(({ execFile }) => execFile(ffmpeg, ['-hide_banner', '-encoders'], (_e, out) => resolve(out)));
    });
    if (!listed.includes('h264_v4l2m2m')) expect(enc).toBe('libx264');
    expect(await detectVideoEncoder('/nonexistent/ffmpeg')).toBe('libx264');
  });
});
