// NMEA 0183 framing and dispatch: find the sentence in a line, verify the
// checksum, split the address into talker and type, and hand the fields to
// the decoder for that type. One pass over the characters computes the XOR,
// records the comma positions and checks every byte is printable ASCII; the
// decoders then read numbers straight out of the line (see nmea-fields.ts).

import { FieldReader } from './nmea-fields.js';
import { decodeGga, decodeGll, decodeGns, decodeRmc, decodeVtg, decodeZda } from './nmea-position-decoders.js';
import { decodeGsa, decodeGst, decodeGsv, decodeTxt } from './nmea-satellite-decoders.js';
import type { ParseFailure, ParseResult, Sentence } from './nmea-types.js';

export interface ParseOptions {
  /** Reject sentences without a `*hh` checksum (default true). */
  requireChecksum?: boolean;
  /**
   * Longest sentence accepted, from `$` to the checksum, terminator excluded
   * (default 120). The standard allows 82 with CR LF; several vendors exceed
   * it with long GSV/GSA or proprietary text, so we allow some slack.
   */
  maxLength?: number;
}

/** Default for ParseOptions.maxLength. */
export const NMEA_MAX_LENGTH = 120;

type Decoder = (r: FieldReader, talker: string) => Sentence | undefined;

interface Kind {
  type: string;
  decode: Decoder;
}

const code3 = (s: string): number => (s.charCodeAt(0) << 16) | (s.charCodeAt(1) << 8) | s.charCodeAt(2);

// Keyed by the three type letters packed into an integer: looking up a freshly
// sliced string in an object made V8 hash it on every sentence. This and the
// talker cache below together took bench/nmea-parse from ~2.4× to ~3.0×.
const KINDS = new Map<number, Kind>(
  (
    [
      ['RMC', decodeRmc],
      ['GGA', decodeGga],
      ['GSA', decodeGsa],
      ['GSV', decodeGsv],
      ['VTG', decodeVtg],
      ['GLL', decodeGll],
      ['ZDA', decodeZda],
      ['GST', decodeGst],
      ['GNS', decodeGns],
      ['TXT', decodeTxt],
    ] as const
  ).map(([type, decode]) => [code3(type), { type, decode }]),
);

// Talker ids are few (GP, GN, GL, ...); reusing one string per id saves an
// allocation per sentence. Bounded: at most 36 × 36 entries.
const talkers = new Map<number, string>();

function talkerOf(line: string, at: number): string {
  const key = (line.charCodeAt(at) << 8) | line.charCodeAt(at + 1);
  let t = talkers.get(key);
  if (t === undefined) {
    t = line.slice(at, at + 2);
    talkers.set(key, t);
  }
  return t;
}

const C_DOLLAR = 36;
const C_BANG = 33;
const C_P = 80;
const C_STAR = 42;
const C_COMMA = 44;
const C_CR = 13;
const C_LF = 10;
const C_SPACE = 32;
const C_TILDE = 126;

const fail = (reason: ParseFailure, detail: string): ParseResult => ({ ok: false, reason, detail });

/** Parses one NMEA line into a typed sentence or a reason it was rejected; never throws. */
export function parseSentence(line: string, opts?: ParseOptions): ParseResult {
  try {
    return parse(line, opts?.requireChecksum ?? true, opts?.maxLength ?? NMEA_MAX_LENGTH);
  } catch (err) {
    // Unreachable by design (property-tested); kept so a decoder bug costs one sentence, not the stream.
    return fail('malformed', `parser error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Field delimiter positions of the sentence being parsed. One buffer reused by
// every call (parsing is synchronous and the reader never outlives the call):
// growing a fresh array per sentence cost ~70 ns of ~450 ns of framing.
let scratch = new Int32Array(NMEA_MAX_LENGTH + 2);
// Likewise one field reader: decoders are synchronous and keep nothing of it.
const READER = new FieldReader('', scratch, 0, '');

function parse(line: string, requireChecksum: boolean, maxLength: number): ParseResult {
  if (typeof line !== 'string') return fail('malformed', `expected a string, got ${typeof line}`);
  let end = line.length;
  while (end > 0 && isTrailingSpace(line.charCodeAt(end - 1))) end--;
  if (end === 0) return fail('empty', 'empty line');
  // Bound the work so a huge junk string costs no more than a long line.
  if (end > maxLength * 8) return fail('too-long', `line of ${end} characters`);
  let start = firstDelimiter(line, end);
  if (start < 0) return fail('no-start', 'no $ or ! start delimiter');
  if (scratch.length < end + 2) scratch = new Int32Array(end + 2);
  const bounds = scratch;
  let n = 0;
  let sum = 0;
  let badChar = -1;
  let p = start + 1;
  for (;;) {
    n = 0;
    bounds[n++] = start;
    sum = 0;
    badChar = -1;
    for (p = start + 1; p < end; p++) {
      const c = line.charCodeAt(p);
      // Fast path for what fields are made of (digits, letters, '.', '-'): every delimiter and
      // control character is below C_COMMA + 1, so one range test settles most characters.
      if (c > C_COMMA && c <= C_TILDE) {
        sum ^= c;
        continue;
      }
      if (c === C_STAR) break;
      if (c === C_COMMA) {
        bounds[n++] = p;
      } else if (c === C_DOLLAR || c === C_BANG) {
        // Garbage before a sentence (power-up noise, a splice after a dropped
        // terminator) is skipped by restarting at the last delimiter: `$` and
        // `!` are reserved and never occur inside a sentence.
        start = p;
        n = 0;
        bounds[n++] = p;
        sum = 0;
        badChar = -1;
        continue;
      } else if ((c < C_SPACE || c > C_TILDE) && badChar < 0) {
        badChar = p;
      }
      sum ^= c;
    }
    // A complete sentence followed by another without a line break: the
    // first one's checksum is not at the end, so start over at the later one.
    const later = p < end && end - p !== 3 ? lastDelimiter(line, p, end) : -1;
    if (later < 0) break;
    start = later;
  }
  if (end - start > maxLength) return fail('too-long', `sentence of ${end - start} characters exceeds ${maxLength}`);
  if (p < end) {
    if (end - p !== 3) return fail('malformed', `checksum must be two hex digits after *, got "${line.slice(p + 1, end)}"`);
    const hi = hexValue(line.charCodeAt(p + 1));
    const lo = hexValue(line.charCodeAt(p + 2));
    if (hi < 0 || lo < 0) return fail('malformed', `checksum "${line.slice(p + 1, end)}" is not hex`);
    const given = hi * 16 + lo;
    if (given !== sum) return fail('bad-checksum', `checksum ${hex2(given)} does not match computed ${hex2(sum)}`);
  } else if (requireChecksum) {
    return fail('missing-checksum', 'no *hh checksum');
  }
  if (badChar >= 0) return fail('malformed', `non-printable character 0x${hex2(line.charCodeAt(badChar))} at column ${badChar - start}`);
  bounds[n++] = p;

  const addressEnd = bounds[1];
  if (line.charCodeAt(start + 1) === C_P) return fail('proprietary', line.slice(start + 1, addressEnd));
  const addressLength = addressEnd - start - 1;
  if (addressLength < 3 || !isUpperAlnum(line, start + 1, addressEnd)) {
    return fail('malformed', `address "${line.slice(start + 1, addressEnd)}" is not a talker id and sentence type`);
  }
  // Vendor extensions that ignore the 5-character rule (MediaTek's GPACCURACY) are sentences we don't decode, not damage.
  if (addressLength !== 5) return fail('unknown', line.slice(start + 1, addressEnd));
  const kind = KINDS.get((line.charCodeAt(start + 3) << 16) | (line.charCodeAt(start + 4) << 8) | line.charCodeAt(start + 5));
  if (kind === undefined) return fail('unknown', line.slice(start + 1, addressEnd));
  const reader = READER.reset(line, bounds, n - 2, kind.type);
  const sentence = kind.decode(reader, talkerOf(line, start + 1));
  if (sentence === undefined || reader.error !== undefined) return fail('malformed', reader.error ?? `${kind.type} could not be decoded`);
  return { ok: true, sentence };
}

function lastDelimiter(line: string, from: number, end: number): number {
  for (let i = end - 1; i > from; i--) {
    const c = line.charCodeAt(i);
    if (c === C_DOLLAR || c === C_BANG) return i;
  }
  return -1;
}

function firstDelimiter(line: string, end: number): number {
  for (let i = 0; i < end; i++) {
    const c = line.charCodeAt(i);
    if (c === C_DOLLAR || c === C_BANG) return i;
  }
  return -1;
}

/** XOR of the characters between the start delimiter and `*`, as two upper-case hex digits. */
export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return hex2(sum);
}

/** Terminators and the padding some receivers leave after the checksum (spaces, NULs). */
function isTrailingSpace(c: number): boolean {
  return c === C_CR || c === C_LF || c === C_SPACE || c === 9 || c === 0;
}

function isUpperAlnum(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
