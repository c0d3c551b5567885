// The CLI as a user meets it: `node dist/cli.js ...` as a child process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, cliPath, makeTempDir } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const COMMANDS = ['agent', 'sim', 'ingest', 'nmea', 'verify', 'link', 'docs-gen', 'protocol-gen'];

interface Run { code: number | null; stdout: string; stderr: string }

async function nrec(args: string[], opts: { cwd?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [cliPath(), ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('nrec, the front door', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(await nrec(['--version'])).toEqual({ code: 0, stdout: `nrec ${pkg.version}\n`, stderr: '' });
  });

  it('help lists every command; no arguments prints the same on stderr and exits 2', async () => {
    const help = await nrec(['help']);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    const bare = await nrec([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe(help.stdout);
  });

  it('help CMD and CMD --help print the command\'s usage, for every command', async () => {
    for (const c of COMMANDS) {
      const a = await nrec(['help', c]);
      const b = await nrec([c, '--help']);
      const h = await nrec([c, '-h']);
      expect(a.code, c).toBe(0);
      expect(a.stdout, c).toMatch(new RegExp(`^usage: nrec ${c}`));
      expect(b, c).toEqual(a);
      expect(h, c).toEqual(a);
    }
  });

  it('an unknown command or option is one line on stderr and exit 2', async () => {
    expect(await nrec(['frobnicate'])).toEqual({ code: 2, stdout: '', stderr: 'nrec: unknown command "frobnicate"; run "nrec help" for the commands\n' });
    expect(await nrec(['--frobnicate'])).toEqual({ code: 2, stdout: '', stderr: 'nrec: unknown option "--frobnicate"; run "nrec help" for the commands\n' });
    expect(await nrec(['help', 'frobnicate'])).toMatchObject({ code: 2, stdout: '' });
    for (const c of COMMANDS) {
      expect(await nrec([c, '--frobnicate']), c).toEqual({ code: 2, stdout: '', stderr: `nrec ${c}: unknown option "--frobnicate"; run "nrec help ${c}" for usage\n` });
    }
    expect(await nrec(['verify'])).toEqual({ code: 2, stdout: '', stderr: 'nrec verify: STORE is required; run "nrec help verify" for usage\n' });
    expect(await nrec(['sim', '--duration', 'soon'])).toEqual({ code: 2, stdout: '', stderr: 'nrec sim: --duration must be a number of at least 0, got "soon"; run "nrec help sim" for usage\n' });
    expect(await nrec(['ingest'])).toMatchObject({ code: 2, stderr: 'nrec ingest: --store DIR is required (evidence files and device keys live there); run "nrec help ingest" for usage\n' });
  });

  it('ends quietly when the reader of its output goes away (nrec nmea log | head -1)', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-cli-'), (d) => d.remove());
    const epoch = await readFile(join(import.meta.dirname, '..', 'agent', 'gps', 'testdata', 'sirf-nmea22.nmea'), 'utf8');
    await writeFile(dir.file('big.nmea'), epoch.repeat(400)); // far more output than a pipe buffer holds
    const child = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${cliPath()}" nmea "${dir.file('big.nmea')}" | head -1 >/dev/null`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('nrec verify', () => {
  it('says when there is no store, and that nothing was checked in a store without sessions', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-cli-'), (d) => d.remove());
    expect(await nrec(['verify', dir.file('nope')])).toEqual({ code: 2, stdout: '', stderr: `nrec verify: no evidence store at ${dir.file('nope')}: no such directory\n` });
    await mkdir(dir.file('empty'));
    const empty = await nrec(['verify', dir.file('empty')]);
    expect(empty.code).toBe(1);
    expect(empty.stdout).toContain(`NOTHING CHECKED: no evidence sessions under ${dir.file('empty')}`);
    expect(empty.stdout).not.toMatch(/no problems/);
  });
});

describe('generators', () => {
  it('docs-gen never takes a flag for a file name and writes only its file', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-cli-'), (d) => d.remove());
    expect((await nrec(['docs-gen', '--help'], { cwd: dir.path })).code).toBe(0);
    expect((await nrec(['docs-gen', '--out=x'], { cwd: dir.path })).code).toBe(2);
    expect(await readdir(dir.path)).toEqual([]);
    expect(await nrec(['docs-gen', 'ref.md'], { cwd: dir.path })).toMatchObject({ code: 0, stderr: '' });
    expect(await readdir(dir.path)).toEqual(['ref.md']);
    expect(await readFile(dir.file('ref.md'), 'utf8')).toMatch(/^# Agent configuration reference/);
  });

  it('protocol-gen leaves files it did not write, and removes only stale files it wrote', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-cli-'), (d) => d.remove());
    await writeFile(dir.file('notes.txt'), 'mine');
    await writeFile(dir.file('other.schema.json'), '{}');
    expect((await nrec(['protocol-gen', '--help'], { cwd: dir.path })).code).toBe(0);
    expect((await readdir(dir.path)).sort()).toEqual(['notes.txt', 'other.schema.json']);
    const run = await nrec(['protocol-gen', dir.path]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const written = (await readFile(dir.file('.generated'), 'utf8')).trim().split('\n');
    expect(written).toContain('asyncapi.json');
    expect((await readdir(dir.path)).sort()).toEqual(['.generated', 'notes.txt', 'other.schema.json', ...written].sort());
    // A file the last run wrote that is no longer published goes; files it never wrote stay.
    await writeFile(dir.file('retired.schema.json'), '{}');
    await writeFile(dir.file('.generated'), `${[...written, 'retired.schema.json'].join('\n')}\n`);
    expect((await nrec(['protocol-gen', dir.path])).code).toBe(0);
    expect((await readdir(dir.path)).sort()).toEqual(['.generated', 'notes.txt', 'other.schema.json', ...written].sort());
  });
});
