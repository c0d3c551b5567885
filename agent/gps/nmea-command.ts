// `nrec nmea [file|-] [--no-checksum]`: replays an NMEA log through the same
// line splitter, parser and fix assembler the agent uses, and prints one JSON
// fix per epoch, then one line of counts. For checking a receiver's recording
// by eye or in a regression test.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { FixAssembler } from './fix-assembler.js';
import type { Fix } from './fix.js';
import { LineSplitter } from './line-splitter.js';
import { parseSentence } from './nmea-parser.js';
import { parseCommandArgs } from '../../lib/cli-args.js';

export interface NmeaCommandIo {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
}

/** Final summary line of `nrec nmea`. */
export interface NmeaCounts {
  sentences: number;
  badChecksum: number;
  unknown: number;
  proprietary: number;
  /** Everything else rejected: malformed fields, missing checksum, no start delimiter, overlong lines. */
  malformed: number;
  epochs: number;
}

/** Entry point of `nrec nmea`; returns the exit code (0, or 2 for an unreadable file); bad usage throws a UsageError. */
export async function main(argv: string[], io: NmeaCommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const { values, positionals: paths } = parseCommandArgs(argv, { options: { 'no-checksum': { type: 'boolean', default: false } }, positionals: ['FILE'] });
  const requireChecksum = !values['no-checksum'];
  const path = paths[0] ?? '-';
  let input: Readable;
  if (path === '-') {
    input = io.stdin ?? process.stdin;
  } else {
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error('not a regular file');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
      stderr.write(`nrec nmea: cannot read "${path}": ${why}\n`);
      return 2;
    }
    input = createReadStream(path);
  }

  const counts = await replay(input, requireChecksum, (fix) => write(stdout, `${JSON.stringify(fix)}\n`));
  await write(stdout, `${JSON.stringify(counts)}\n`);
  return 0;
}

/** Runs a byte stream through splitter, parser and assembler, handing each fix to `onFix`. */
export async function replay(input: Readable, requireChecksum: boolean, onFix: (fix: Fix) => Promise<void>): Promise<NmeaCounts> {
  const counts: NmeaCounts = { sentences: 0, badChecksum: 0, unknown: 0, proprietary: 0, malformed: 0, epochs: 0 };
  const splitter = new LineSplitter();
  const assembler = new FixAssembler();
  input.pipe(splitter);
  input.once('error', (err) => splitter.destroy(err));
  for await (const line of splitter as AsyncIterable<string>) {
    // gpsd's regression logs start with "# Name: ..." headers naming the device.
    if (line.charCodeAt(0) === 35 /* # */) continue;
    const result = parseSentence(line, { requireChecksum });
    if (!result.ok) {
      if (result.reason === 'bad-checksum') counts.badChecksum++;
      else if (result.reason === 'unknown') counts.unknown++;
      else if (result.reason === 'proprietary') counts.proprietary++;
      else if (result.reason !== 'empty') counts.malformed++;
      continue;
    }
    counts.sentences++;
    const fix = assembler.push(result.sentence);
    if (fix !== undefined) await onFix(fix);
  }
  const last = assembler.flush();
  if (last !== undefined) await onFix(last);
  counts.malformed += splitter.discarded;
  counts.epochs = assembler.epochs;
  return counts;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}
