// `nrec nmea` as a user runs it: the compiled CLI in a child process, reading a
// file or stdin. The in-process behaviour is proved in
// agent/gps/nmea-command.test.ts; this proves the wiring (argv, stdin, stdout,
// stderr, exit code) through dist/cli.js.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSentences } from '../simulator/gps/nmea-writer.js';
import { cliPath, makeTempDir, type TempDir } from './support/index.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), '..', 'agent', 'gps', 'testdata');
const logs = readdirSync(testdata).filter((f) => f.endsWith('.nmea')).sort();

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs `node dist/cli.js nmea ...args`, feeding `stdin` when given (else stdin is closed). */
async function nmea(args: string[], stdin?: string | Buffer): Promise<Run> {
  const child = spawn(process.execPath, [cliPath(), 'nmea', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  expect(text.endsWith('\n'), 'output ends with a newline').toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('nrec nmea (compiled CLI, child process)', () => {
  let tmp: TempDir;
  beforeAll(async () => {
    tmp = await makeTempDir('nrec-nmea-cli-');
  });
  afterAll(() => tmp.remove());

  it('has regression logs to replay', () => {
    expect(logs.length).toBeGreaterThanOrEqual(3);
  });

  for (const log of logs) {
    const name = log.slice(0, -'.nmea'.length);
    it(`${name}: a file argument and the same bytes on stdin (-) both print the reviewed output`, async () => {
      const expected = await readFile(join(testdata, `${name}.expected.jsonl`), 'utf8');
      const fromFile = await nmea([join(testdata, log)]);
      expect(fromFile.stderr).toBe('');
      expect(fromFile.code).toBe(0);
      expect(fromFile.stdout).toBe(expected);
      const fromStdin = await nmea(['-'], await readFile(join(testdata, log)));
      expect(fromStdin.code).toBe(0);
      expect(fromStdin.stdout).toBe(expected);
      // One fix per epoch, then the counts line, whose epochs figure matches.
      const lines = jsonLines(fromFile.stdout);
      const counts = lines.at(-1)!;
      expect(Object.keys(counts).sort()).toEqual(['badChecksum', 'epochs', 'malformed', 'proprietary', 'sentences', 'unknown']);
      expect(counts.epochs).toBe(lines.length - 1);
    });
  }

  it('prints the position of each epoch a simulated receiver wrote, read from stdin', async () => {
    const t0 = Date.UTC(2025, 5, 1, 9, 30, 0);
    const epochs = [0, 1, 2, 3].map((i) =>
      epochSentences({ time: new Date(t0 + i * 1000), lat: 35.6467 + i * 1e-4, lon: 139.6533 - i * 1e-4, altM: 38.5, speedMps: 1.4, courseDeg: 45, fix: true }),
    );
    const run = await nmea(['-'], epochs.map((e) => e.text).join(''));
    expect(run.code).toBe(0);
    const lines = jsonLines(run.stdout);
    const fixes = lines.slice(0, -1);
    expect(fixes).toHaveLength(epochs.length);
    fixes.forEach((f, i) => {
      expect(f).toMatchObject({ valid: true, fixType: '3d', time: t0 + i * 1000 });
      expect(f.lat as number).toBeCloseTo(epochs[i].lat, 9);
      expect(f.lon as number).toBeCloseTo(epochs[i].lon, 9);
    });
    expect(lines.at(-1)).toEqual({ sentences: 6 * epochs.length, badChecksum: 0, unknown: 0, proprietary: 0, malformed: 0, epochs: epochs.length });
  });

  it('counts a corrupted checksum instead of printing its position; --no-checksum accepts sentences without one', async () => {
    const text = epochSentences({ time: new Date(Date.UTC(2025, 5, 1)), lat: 35.6467, lon: 139.6533, altM: 1, speedMps: 0, courseDeg: 0, fix: true }).text;
    const path = tmp.file('bad.nmea');
    await writeFile(path, text.replace(/\*[0-9A-F]{2}\r\n/, '*00\r\n'));
    const bad = await nmea([path]);
    expect(bad.code).toBe(0);
    expect(jsonLines(bad.stdout).at(-1)).toMatchObject({ badChecksum: 1, sentences: 5 });

    const bare = text.replace(/\*[0-9A-F]{2}\r\n/g, '\r\n');
    const strict = await nmea(['-'], bare);
    expect(jsonLines(strict.stdout).at(-1)).toMatchObject({ sentences: 0, epochs: 0 });
    const lenient = await nmea(['--no-checksum', '-'], bare);
    expect(lenient.code).toBe(0);
    const lines = jsonLines(lenient.stdout);
    expect(lines.at(-1)).toMatchObject({ sentences: 6, epochs: 1 });
    expect(lines[0]).toMatchObject({ valid: true });
  });

  it('a missing file exits 2 and says which file, printing nothing on stdout', async () => {
    const missing = tmp.file('no-such-log.nmea');
    const run = await nmea([missing]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`cannot read "${missing}": no such file`);
  });

  it('an unknown option exits 2 with one line naming it and where the usage is', async () => {
    const run = await nmea(['--frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('nrec nmea: unknown option "--frobnicate"; run "nrec help nmea" for usage\n');
  });
});
