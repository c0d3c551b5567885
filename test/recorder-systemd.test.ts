import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, requireTool, type TempDir } from './support/index.js';
import { makeBundle, makeInstallRoot, makeReleaseKey, runInstall } from './support/recorder.js';

// systemd-analyze checks the units as installed. Offline (no systemd as PID 1 here): the units' absolute
// paths are rewritten to the temp root, so ExecStart= must name the installed, executable wrapper.
describe('systemd units', () => {
  let work: TempDir;
  let root: TempDir;
  let units: string;
  let analyze: string;

  beforeAll(async () => {
    analyze = requireTool('systemd-analyze', ['/usr/bin/systemd-analyze']);
    work = await makeTempDir('nrec-units-');
    root = await makeInstallRoot();
    const key = await makeReleaseKey(work.path);
    const r = runInstall(['--root', root.path, (await makeBundle(key.privateKey, work.path, '2.0.0')).file]);
    expect(r.status, r.stderr).toBe(0);
    units = join(work.path, 'units');
    await mkdir(units);
    for (const u of ['nrec.service', 'nrec-update.service', 'nrec-update.path']) {
      const text = await readFile(join(root.path, 'etc/systemd/system', u), 'utf8');
      await writeFile(join(units, u), text.replaceAll('/opt/nrec', join(root.path, 'opt/nrec')).replaceAll('/var/lib/nrec', join(root.path, 'var/lib/nrec')));
    }
  }, 120_000);
  afterAll(async () => {
    await root?.remove();
    await work?.remove();
  });

  it('systemd-analyze verify accepts every unit without a warning', () => {
    const r = spawnSync(analyze, ['verify', ...['nrec.service', 'nrec-update.service', 'nrec-update.path'].map((u) => join(units, u))], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('the agent unit is a watched, always-restarted notify service with the documented hardening', async () => {
    const text = await readFile(join(units, 'nrec.service'), 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'Restart=always', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=', 'PrivateTmp=yes', 'ProtectHome=yes', 'SupplementaryGroups=dialout gpio video audio']) {
      expect(text).toMatch(new RegExp(`^${line}`, 'm'));
    }
    expect(text).toMatch(/^WatchdogSec=\d+/m);
    expect(text).not.toMatch(/^PrivateDevices=/m);
    const r = spawnSync(analyze, ['security', '--offline=true', join(units, 'nrec.service')], { encoding: 'utf8' });
    const level = /Overall exposure level for nrec\.service: ([\d.]+)/.exec(r.stdout);
    expect(level, r.stdout + r.stderr).not.toBeNull();
    // docs/recorder.md reports 2.2; anything above 3 means hardening was lost.
    expect(Number(level![1])).toBeLessThanOrEqual(3);
  });
});
