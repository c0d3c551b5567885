/**
 * Parses the output of `strace -f -ttt -T -yy -x -s <big> -X raw -o FILE`
 * into completed system calls, in the order they completed.
 *
 * Each line is `TID EPOCH.USEC name(args) = RET <DUR>`; a call another thread
 * interrupted is split over `name(args <unfinished ...>` and
 * `<... name resumed>rest) = RET <DUR>`, which are joined here. Every call
 * carries two positions on one counter of trace lines: where it started and
 * where it completed, so a durability model can tell "written before this
 * fsync began" from "written while it ran".
 *
 * Strings are kept as their trace text and decoded on demand (most of a trace
 * is data read from files nobody asks about).
 */

/** A parsed argument. */
export type Arg =
  | { kind: 'num'; text: string; value: number; fd?: string }
  | { kind: 'str'; raw: string; truncated: boolean }
  | { kind: 'array'; items: Arg[] }
  | { kind: 'struct'; fields: Record<string, Arg> }
  | { kind: 'named'; name: string; value: Arg }
  | { kind: 'other'; text: string };

export interface Syscall {
  tid: number;
  name: string;
  args: Arg[];
  /** Numeric return value; undefined when strace printed `?` (the process died in the call). */
  ret: number | undefined;
  /** The decoration of a returned descriptor (`= 21</path>`): its path or socket. */
  retFd?: string;
  /** errno name when the call failed (`= -1 ENOENT (...)`). */
  errno?: string;
  /** Trace line (0-based) where the call started, and where it completed. */
  start: number;
  end: number;
  /** Completion time, epoch seconds (microsecond resolution). */
  time: number;
}

export interface ProcessExit {
  tid: number;
  line: number;
  time: number;
  how: string;
}

/** Decodes a strace string literal body (without the quotes): C escapes, \xNN, octal. */
export function decodeString(raw: string): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x5c) {
      // Printable ASCII only: strace hex-escapes anything else under -x.
      out[n++] = c;
      continue;
    }
    const e = raw[++i];
    switch (e) {
      case 'x':
        out[n++] = parseInt(raw.slice(i + 1, i + 3), 16);
        i += 2;
        break;
      case 'n': out[n++] = 0x0a; break;
      case 't': out[n++] = 0x09; break;
      case 'r': out[n++] = 0x0d; break;
      case 'v': out[n++] = 0x0b; break;
      case 'f': out[n++] = 0x0c; break;
      case '"': out[n++] = 0x22; break;
      case '\\': out[n++] = 0x5c; break;
      default: {
        if (e >= '0' && e <= '7') {
          let j = i;
          let v = 0;
          while (j < i + 3 && raw[j] >= '0' && raw[j] <= '7') v = v * 8 + (raw.charCodeAt(j++) - 48);
          out[n++] = v;
          i = j - 1;
        } else {
          throw new Error(`unknown escape \\${e} in strace string`);
        }
      }
    }
  }
  return out.subarray(0, n);
}

/** The bytes of a string argument. */
export function bytesOf(a: Arg | undefined): Buffer {
  if (a?.kind === 'named') return bytesOf(a.value);
  if (a?.kind !== 'str') throw new Error(`expected a string argument, got ${a?.kind ?? 'nothing'}`);
  if (a.truncated) throw new Error('a string argument was truncated by strace: raise -s');
  return decodeString(a.raw);
}

/** The text of a string argument (a path). */
export function textOf(a: Arg | undefined): string {
  return bytesOf(a).toString('utf8');
}

/** The number of an argument (with or without a descriptor decoration). */
export function numOf(a: Arg | undefined): number {
  if (a?.kind === 'named') return numOf(a.value);
  if (a?.kind === 'num') return a.value;
  if (a?.kind === 'other') return evalFlags(a.text);
  throw new Error(`expected a number, got ${a?.kind ?? 'nothing'}`);
}

/** The decoration (path or socket) of a descriptor argument, if any. */
export function fdPathOf(a: Arg | undefined): string | undefined {
  return a?.kind === 'num' ? a.fd : undefined;
}

/** A number as strace prints it: decimal, `0x` hex, or octal with a leading 0 (file modes). */
export function parseNumber(text: string): number | undefined {
  if (/^-?0[0-7]+$/.test(text)) return (text.startsWith('-') ? -1 : 1) * parseInt(text.replace('-', ''), 8);
  if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(text)) return Number(text);
  return undefined;
}

/** `0x1200000|17` (what -X raw prints for flag sets) as a number. */
export function evalFlags(text: string): number {
  let v = 0;
  for (const part of text.split('|')) {
    const n = parseNumber(part.trim());
    if (n === undefined) throw new Error(`not a raw flag value: ${text}`);
    v |= n;
  }
  return v;
}

/** A cursor over one call's text. */
class Cursor {
  i = 0;
  constructor(readonly s: string) {}

  peek(): string {
    return this.s[this.i];
  }

  skipSpace(): void {
    for (;;) {
      while (this.s[this.i] === ' ') this.i++;
      if (this.s.startsWith('/*', this.i)) {
        const j = this.s.indexOf('*/', this.i + 2);
        this.i = j < 0 ? this.s.length : j + 2;
        continue;
      }
      return;
    }
  }

  expect(ch: string): void {
    if (this.s[this.i] !== ch) throw new Error(`expected "${ch}" at ${this.i} in ${this.s.slice(0, 200)}`);
    this.i++;
  }
}

function parseString(c: Cursor): Arg {
  c.expect('"');
  const from = c.i;
  const s = c.s;
  let i = from;
  for (;;) {
    const j = s.indexOf('"', i);
    if (j < 0) throw new Error('unterminated string in strace line');
    // A quote is escaped when preceded by an odd number of backslashes.
    let k = j - 1;
    let bs = 0;
    while (k >= from && s[k] === '\\') {
      bs++;
      k--;
    }
    if (bs % 2 === 0) {
      c.i = j + 1;
      const truncated = s.startsWith('...', c.i);
      if (truncated) c.i += 3;
      return { kind: 'str', raw: s.slice(from, j), truncated };
    }
    i = j + 1;
  }
}

/** A descriptor decoration `<...>`, which may nest (`</dev/null<char 1:3>>`) and hold `->` inside brackets. */
function parseDecoration(c: Cursor): string {
  c.expect('<');
  const from = c.i;
  let depth = 1;
  let bracket = 0;
  const s = c.s;
  for (; c.i < s.length; c.i++) {
    const ch = s[c.i];
    if (ch === '[') bracket++;
    else if (ch === ']') bracket--;
    else if (bracket === 0 && ch === '<') depth++;
    else if (bracket === 0 && ch === '>' && --depth === 0) {
      const text = s.slice(from, c.i);
      c.i++;
      return text;
    }
  }
  throw new Error('unterminated descriptor decoration');
}

function parseList(c: Cursor, close: string): Arg[] {
  const items: Arg[] = [];
  c.skipSpace();
  if (c.peek() === close) {
    c.i++;
    return items;
  }
  for (;;) {
    items.push(parseValue(c));
    c.skipSpace();
    const ch = c.peek();
    if (ch === ',') {
      c.i++;
      c.skipSpace();
      // strace abbreviates long arrays as `...` (not with -v for our calls, but be safe)
      if (c.s.startsWith('...', c.i)) {
        c.i += 3;
        c.skipSpace();
      }
      continue;
    }
    if (ch === close) {
      c.i++;
      return items;
    }
    throw new Error(`expected "," or "${close}" at ${c.i} in ${c.s.slice(0, 200)}`);
  }
}

function parseValue(c: Cursor): Arg {
  c.skipSpace();
  let v = parseAtom(c);
  c.skipSpace();
  // `{in} => {out}`: an argument strace shows before and after the call; keep what it was on exit.
  if (c.s.startsWith('=>', c.i)) {
    c.i += 2;
    c.skipSpace();
    const after = parseAtom(c);
    if (v.kind === 'struct' && after.kind === 'struct') v = { kind: 'struct', fields: { ...v.fields, ...after.fields } };
    else v = after;
  }
  return v;
}

function parseAtom(c: Cursor): Arg {
  const ch = c.peek();
  if (ch === '"') return parseString(c);
  if (ch === '[') {
    c.i++;
    return { kind: 'array', items: parseList(c, ']') };
  }
  if (ch === '{') {
    c.i++;
    const fields: Record<string, Arg> = {};
    for (const item of parseList(c, '}')) {
      if (item.kind === 'named') fields[item.name] = item.value;
    }
    return { kind: 'struct', fields };
  }
  // A bare token: a number (maybe with a decoration), a flag expression, NULL, or `name=value`.
  const s = c.s;
  const from = c.i;
  while (c.i < s.length && !',)]}<= '.includes(s[c.i])) c.i++;
  const text = s.slice(from, c.i);
  if (s[c.i] === '=' && s[c.i + 1] !== '>' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) {
    c.i++;
    return { kind: 'named', name: text, value: parseValue(c) };
  }
  // A flag expression may hold spaces around `|` (never with -X raw) but may hold `<<` in shifts: keep simple.
  const value = parseNumber(text);
  if (value !== undefined) {
    if (s[c.i] === '<') return { kind: 'num', text, value, fd: parseDecoration(c) };
    return { kind: 'num', text, value };
  }
  return { kind: 'other', text };
}

/** Splits `name(args) = ret <dur>` into its parts. */
export function parseCall(text: string): { name: string; args: Arg[]; ret: number | undefined; retFd?: string; errno?: string } {
  const open = text.indexOf('(');
  if (open < 0) throw new Error(`not a system call: ${text.slice(0, 120)}`);
  const name = text.slice(0, open);
  const c = new Cursor(text);
  c.i = open + 1;
  const args = parseList(c, ')');
  const rest = text.slice(c.i);
  const m = /^\s*=\s*(\?|-?(?:0x[0-9a-f]+|\d+))(<)?/.exec(rest);
  if (m === null) throw new Error(`no return value in: ${rest.slice(0, 120)}`);
  if (m[1] === '?') return { name, args, ret: undefined };
  const ret = Number(m[1]);
  let retFd: string | undefined;
  let tail = rest.slice(m[0].length);
  if (m[2] === '<') {
    const rc = new Cursor(`<${tail}`);
    retFd = parseDecoration(rc);
    tail = rc.s.slice(rc.i);
  }
  const e = ret < 0 ? /^\s*([A-Z][A-Z0-9_]*)/.exec(tail)?.[1] : undefined;
  return { name, args, ret, ...(retFd === undefined ? {} : { retFd }), ...(e === undefined ? {} : { errno: e }) };
}

const LINE_RE = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/;

/**
 * Streaming parser: feed it lines in order; it calls `onCall` for every completed call
 * (in completion order) and `onExit` for every thread that exited or was killed.
 * `want(name, text)` may return false to skip a call without parsing its arguments.
 */
export class StraceParser {
  #line = -1;
  readonly #pending = new Map<number, { text: string; start: number }>();

  constructor(
    private readonly onCall: (c: Syscall) => void,
    private readonly onExit: (e: ProcessExit) => void = () => undefined,
    private readonly want: (name: string) => boolean = () => true,
  ) {}

  /** Lines seen so far. */
  get lines(): number {
    return this.#line + 1;
  }

  push(line: string): void {
    const lineNo = ++this.#line;
    if (line === '') return;
    const m = LINE_RE.exec(line);
    if (m === null) throw new Error(`line ${lineNo + 1} of the trace is not "TID TIME ...": ${line.slice(0, 120)} (was strace run with -f -ttt?)`);
    const tid = Number(m[1]);
    const time = Number(m[2]);
    let body = m[3];
    if (body.startsWith('+++')) {
      this.#pending.delete(tid);
      this.onExit({ tid, line: lineNo, time, how: body.replace(/^\+\+\+\s*|\s*\+\+\+$/g, '') });
      return;
    }
    if (body.startsWith('---')) return; // a signal
    let start = lineNo;
    if (body.startsWith('<... ')) {
      const r = /^<\.\.\. ([A-Za-z0-9_]+) resumed>/.exec(body);
      if (r === null) throw new Error(`line ${lineNo + 1}: malformed resumption: ${body.slice(0, 120)}`);
      const p = this.#pending.get(tid);
      this.#pending.delete(tid);
      if (p === undefined) return; // started before the trace (attach); nothing to join
      start = p.start;
      body = p.text + body.slice(r[0].length);
    }
    const unfinished = body.endsWith(' <unfinished ...>');
    if (unfinished) {
      this.#pending.set(tid, { text: body.slice(0, -' <unfinished ...>'.length), start });
      return;
    }
    const name = body.slice(0, body.indexOf('('));
    if (!this.want(name)) return;
    let parsed: ReturnType<typeof parseCall>;
    try {
      parsed = parseCall(body);
    } catch (err) {
      throw new Error(`line ${lineNo + 1} of the trace: ${(err as Error).message}`, { cause: err });
    }
    this.onCall({ tid, ...parsed, start, end: lineNo, time });
  }
}
