// Regression logs, gpsd style: each testdata/<name>.nmea (with a "# Name:"
// header saying which receiver it imitates or came from) is replayed through
// `nrec nmea` and compared with testdata/<name>.expected.jsonl. After a
// deliberate change, regenerate one file at a time and review the diff:
//   NREC_UPDATE_GOLDEN=<name> npx vitest run agent/gps/nmea-golden.test.ts
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { main } from './nmea-command.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const logs = readdirSync(dir).filter((f) => f.endsWith('.nmea')).sort();

async function replayFile(path: string): Promise<string> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  const err = new PassThrough();
  const code = await main([path], { stdout: out, stderr: err });
  expect(code).toBe(0);
  return Buffer.concat(parts).toString('utf8');
}

describe('regression logs', () => {
  test('there are logs to check', () => {
    expect(logs.length).toBeGreaterThanOrEqual(3);
  });

  for (const log of logs) {
    const name = log.slice(0, -'.nmea'.length);
    test(name, async () => {
      const actual = await replayFile(join(dir, log));
      const expectedPath = join(dir, `${name}.expected.jsonl`);
      if (process.env.NREC_UPDATE_GOLDEN === name) await writeFile(expectedPath, actual);
      const expected = await readFile(expectedPath, 'utf8').catch(() => {
        throw new Error(`missing ${expectedPath}; generate it with NREC_UPDATE_GOLDEN=${name} and review it`);
      });
      expect(actual.split('\n')).toEqual(expected.split('\n'));
    });
  }
});
