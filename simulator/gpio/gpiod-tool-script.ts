/**
 * The body of the gpiomon/gpioget/gpioset/gpiofind stand-ins. It is written as
 * one self-contained function so it is type-checked here and serialised with
 * `toString()` into executable scripts at runtime (no build step, works from
 * both the TypeScript sources and dist/). It must therefore reference nothing
 * outside itself: modules come in as arguments.
 *
 * The tools talk to the simulated kernel (GpiodLineController) over a Unix
 * socket, one request per connection; a request that holds a line (gpiomon,
 * gpioset) keeps its connection open, so killing the tool releases the line
 * the way closing the file descriptor does.
 */
export interface ToolScriptConfig {
  tool: 'gpiomon' | 'gpioget' | 'gpioset' | 'gpiofind';
  version: 1 | 2;
  versionString: string;
  socket: string;
  stateDir: string;
}

/** Kernel replies, one JSON object per line. */
export interface KernelReply {
  ok?: boolean;
  error?: 'busy' | 'nochip' | 'noline' | 'range';
  chip?: string;
  offset?: number;
  name?: string;
  value?: 0 | 1;
  edge?: 'rising' | 'falling';
  ns?: string;
}

/** Requests a tool sends; `line` is what the user typed (name or offset). */
export interface KernelRequest {
  op: 'resolve' | 'get' | 'monitor' | 'set';
  chip?: string;
  line: string;
  byName: boolean;
  activeLow: boolean;
  value?: 0 | 1;
  pid: number;
  tool: string;
}

export function gpiodToolMain(cfg: ToolScriptConfig, net: typeof import('node:net'), fs: typeof import('node:fs'), path: typeof import('node:path')): void {
  const prog = process.argv[1] ?? cfg.tool;
  const v = cfg.version;
  const die = (msg: string): never => {
    process.stderr.write(`${prog}: ${msg}\n`);
    process.exit(1);
  };

  type Spec = [long: string, short: string, hasArg: boolean];
  const specs: Record<1 | 2, Record<string, Spec[]>> = {
    1: {
      gpiomon: [['help', 'h', false], ['version', 'v', false], ['active-low', 'l', false], ['bias', 'B', true], ['num-events', 'n', true], ['silent', 's', false], ['rising-edge', 'r', false], ['falling-edge', 'f', false], ['line-buffered', 'b', false], ['format', 'F', true]],
      gpioget: [['help', 'h', false], ['version', 'v', false], ['active-low', 'l', false], ['bias', 'B', true]],
      gpioset: [['help', 'h', false], ['version', 'v', false], ['active-low', 'l', false], ['bias', 'B', true], ['drive', 'D', true], ['mode', 'm', true], ['sec', 's', true], ['usec', 'u', true], ['background', 'b', false]],
      gpiofind: [['help', 'h', false], ['version', 'v', false]],
    },
    2: {
      gpiomon: [['active-low', 'l', false], ['banner', '', false], ['bias', 'b', true], ['by-name', '', false], ['chip', 'c', true], ['consumer', 'C', true], ['debounce-period', 'p', true], ['edges', 'e', true], ['event-clock', 'E', true], ['format', 'F', true], ['help', 'h', false], ['idle-timeout', '', true], ['localtime', '', false], ['num-events', 'n', true], ['quiet', 'q', false], ['silent', '', false], ['strict', 's', false], ['unquoted', '', false], ['utc', '', false], ['version', 'v', false]],
      gpioget: [['active-low', 'l', false], ['as-is', 'a', false], ['bias', 'b', true], ['by-name', '', false], ['chip', 'c', true], ['consumer', 'C', true], ['help', 'h', false], ['hold-period', 'p', true], ['numeric', '', false], ['strict', 's', false], ['unquoted', '', false], ['version', 'v', false]],
      gpioset: [['active-low', 'l', false], ['banner', '', false], ['bias', 'b', true], ['by-name', '', false], ['chip', 'c', true], ['consumer', 'C', true], ['daemonize', 'z', false], ['drive', 'd', true], ['help', 'h', false], ['hold-period', 'p', true], ['interactive', 'i', false], ['strict', 's', false], ['toggle', 't', true], ['unquoted', '', false], ['version', 'v', false]],
    },
  };
  const spec = specs[v][cfg.tool];
  if (spec === undefined) die(`not part of libgpiod v${cfg.versionString}`);

  // getopt_long: v1 permutes arguments; v2's option strings start with '+', so
  // parsing stops at the first non-option.
  const opts: Record<string, string | true> = {};
  const pos: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const sp = (spec ?? []).find((s) => s[0] === name);
      if (sp === undefined) die(`unrecognized option '${a}'`);
      else if (sp[2]) {
        const val = eq < 0 ? argv[++i] : a.slice(eq + 1);
        if (val === undefined) die(`option '--${name}' requires an argument`);
        else opts[name] = val;
      } else opts[name] = true;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j] ?? '';
        const sp = (spec ?? []).find((s) => s[1] === c);
        if (sp === undefined) die(`invalid option -- '${c}'`);
        else if (sp[2]) {
          const val = a.slice(j + 1) || argv[++i];
          if (val === undefined) die(`option requires an argument -- '${c}'`);
          else opts[sp[0]] = val;
          break;
        } else opts[sp[0]] = true;
      }
      continue;
    }
    if (v === 2) {
      pos.push(...argv.slice(i));
      break;
    }
    pos.push(a);
  }

  if (opts.help === true) {
    process.stdout.write(`Usage: ${prog} [OPTIONS] ...\n(nrec simulator stand-in for libgpiod v${cfg.versionString})\n`);
    process.exit(0);
  }
  if (opts.version === true) {
    process.stdout.write(`${cfg.tool} (libgpiod) v${cfg.versionString}\nCopyright (C) 2017-2023 Bartosz Golaszewski\nLicense: ${v === 1 ? 'LGPLv2.1' : 'GPL-2.0-or-later'}\nThis is free software: you are free to change and redistribute it.\nThere is NO WARRANTY, to the extent permitted by law.\n`);
    process.exit(0);
  }
  if (typeof opts.bias === 'string') {
    const biases = v === 1 ? ['as-is', 'disable', 'pull-down', 'pull-up'] : ['pull-down', 'pull-up', 'disabled'];
    if (!biases.includes(opts.bias)) die(`invalid bias: ${opts.bias}`);
  }
  const activeLow = opts['active-low'] === true;
  const byName = opts['by-name'] === true;
  const chipOpt = typeof opts.chip === 'string' ? opts.chip : undefined;

  const request = (req: Omit<KernelRequest, 'pid' | 'tool'>, onReply: (r: KernelReply, sock: import('node:net').Socket) => void): import('node:net').Socket => {
    const sock = net.createConnection(cfg.socket);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ ...req, pid: process.pid, tool: cfg.tool }) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      for (let k = buf.indexOf('\n'); k >= 0; k = buf.indexOf('\n')) {
        const line = buf.slice(0, k);
        buf = buf.slice(k + 1);
        onReply(JSON.parse(line) as KernelReply, sock);
      }
    });
    sock.on('error', (e: Error) => die(`unable to open chip '${req.chip ?? ''}': ${e.message}`));
    return sock;
  };
  const failure = (r: KernelReply, req: { chip?: string; line: string }, what: string): never => {
    if (r.error === 'busy') return die(`${what}: Device or resource busy`);
    if (r.error === 'nochip') return die(v === 1 ? `unable to access GPIO chip: No such file or directory` : `cannot find GPIO chip character device '${req.chip ?? ''}'`);
    if (r.error === 'range') return die(v === 1 ? `error reading GPIO values: Invalid argument` : `offset ${req.line} is out of range on chip '${req.chip ?? ''}'`);
    return die(`cannot find line '${req.line}'`);
  };
  // v1 takes `<chip> <offsets>`; v2 takes lines, scoped by -c.
  const lineArgs = (): { chip?: string; lines: string[] } => {
    if (v === 1) {
      if (pos.length < 1) die('gpiochip must be specified');
      if (pos.length < 2) die('at least one GPIO line offset must be specified');
      return { chip: pos[0], lines: pos.slice(1) };
    }
    if (pos.length < 1) die('at least one GPIO line must be specified');
    return { chip: chipOpt, lines: pos };
  };

  if (cfg.tool === 'gpiofind') {
    if (pos.length !== 1) die('exactly one GPIO line name must be specified');
    request({ op: 'resolve', line: pos[0] ?? '', byName: true, activeLow: false }, (r, sock) => {
      sock.end();
      if (r.ok === true) process.stdout.write(`${r.chip} ${r.offset}\n`);
      process.exitCode = r.ok === true ? 0 : 1;
    });
    return;
  }

  if (cfg.tool === 'gpioget') {
    const { chip, lines } = lineArgs();
    const values: string[] = [];
    const next = (i: number): void => {
      const line = lines[i];
      if (line === undefined) {
        process.stdout.write(values.join(' ') + '\n');
        return;
      }
      const req = { op: 'get' as const, chip, line, byName, activeLow };
      request(req, (r, sock) => {
        sock.end();
        if (r.ok !== true) failure(r, req, v === 1 ? 'error reading GPIO values' : `unable to request lines on chip '/dev/${r.chip ?? chip ?? ''}'`);
        const val = r.value ?? 0;
        const quote = opts.unquoted === true ? '' : '"';
        values.push(v === 1 || opts.numeric === true ? String(val) : `${quote}${line}${quote}=${val === 1 ? 'active' : 'inactive'}`);
        next(i + 1);
      });
    };
    next(0);
    return;
  }

  if (cfg.tool === 'gpioset') {
    let chip: string | undefined;
    let pairs: string[];
    if (v === 1) {
      if (pos.length < 2) die(pos.length < 1 ? 'gpiochip must be specified' : 'at least one GPIO line offset to value mapping must be specified');
      chip = pos[0];
      pairs = pos.slice(1);
    } else {
      if (pos.length < 1) die('at least one GPIO line value must be specified');
      if (opts.toggle !== undefined || opts.interactive === true) die('the nrec stand-in does not simulate --toggle or --interactive');
      chip = chipOpt;
      pairs = pos;
    }
    const mode = typeof opts.mode === 'string' ? opts.mode : 'exit';
    if (v === 1 && !['exit', 'wait', 'time', 'signal'].includes(mode)) die(`invalid mode: ${mode}`);
    const words: Record<string, 0 | 1> = v === 1 ? { 0: 0, 1: 1 } : { 0: 0, 1: 1, inactive: 0, active: 1, off: 0, on: 1, false: 0, true: 1 };
    const held: import('node:net').Socket[] = [];
    let pending = pairs.length;
    const release = (): void => {
      for (const s of held) s.end();
    };
    const settled = (): void => {
      if (v === 2 && opts.banner === true) {
        const ids = pairs.map((p) => `'${p.slice(0, p.lastIndexOf('='))}'`);
        process.stdout.write(ids.length > 1 ? `Setting lines ${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}...\n` : `Setting line ${ids[0]}...\n`);
      }
      if (v === 1 && mode === 'exit') release();
      else if (v === 1 && mode === 'time') setTimeout(release, Number(opts.sec ?? 0) * 1000 + Number(opts.usec ?? 0) / 1000);
      else if (v === 1 && mode === 'wait') process.stdin.once('data', release);
    };
    if (v === 2 || mode === 'signal') {
      // Installed before the request so a SIGTERM that races the set still exits cleanly.
      const stop = (): void => {
        release();
        process.exit(0);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    }
    for (const pair of pairs) {
      const eq = pair.lastIndexOf('=');
      const word = eq < 0 ? undefined : words[pair.slice(eq + 1)];
      if (eq < 0 || word === undefined) die(v === 1 ? `invalid offset<->value mapping: ${pair}` : `invalid line value: '${pair}'`);
      const req = { op: 'set' as const, chip, line: pair.slice(0, eq), byName, activeLow, value: word };
      held.push(
        request(req, (r) => {
          if (r.ok !== true) failure(r, req, v === 1 ? 'error setting the GPIO line values' : `unable to request lines on chip '/dev/${chip ?? ''}'`);
          pending -= 1;
          if (pending === 0) settled();
        }),
      );
    }
    return;
  }

  // gpiomon
  const { chip, lines } = lineArgs();
  if (lines.length !== 1) die('the nrec stand-in monitors exactly one line');
  const line = lines[0] ?? '';
  const fmt = typeof opts.format === 'string' ? opts.format : undefined;
  const quiet = opts.silent === true || opts.quiet === true;
  const wanted = typeof opts['num-events'] === 'string' ? Number(opts['num-events']) : 0;
  const edges = v === 1 ? (opts['rising-edge'] === true && opts['falling-edge'] !== true ? 'rising' : opts['falling-edge'] === true && opts['rising-edge'] !== true ? 'falling' : 'both') : typeof opts.edges === 'string' ? opts.edges : 'both';
  if (!['rising', 'falling', 'both'].includes(edges)) die(`invalid edges: ${edges}`);
  // v1 leaves stdout block-buffered on a pipe unless --line-buffered is given:
  // the stand-in does the same, so a backend that forgets the flag sees nothing.
  const lineBuffered = v === 2 || opts['line-buffered'] === true;
  let out = '';
  const emit = (text: string): void => {
    out += text;
    if (lineBuffered || out.length >= 4096) {
      process.stdout.write(out);
      out = '';
    }
  };
  const finish = (code: number): void => {
    if (out !== '') process.stdout.write(out, () => process.exit(code));
    else process.exit(code);
  };
  process.on('SIGTERM', () => finish(0));
  process.on('SIGINT', () => finish(0));
  fs.writeFileSync(path.join(cfg.stateDir, 'gpiomon.pid'), `${process.pid}\n`);
  let done = 0;
  const req = { op: 'monitor' as const, chip, line, byName, activeLow };
  const sock = request(req, (r) => {
    if (r.edge === undefined) {
      if (r.ok !== true) failure(r, req, v === 1 ? 'error waiting for events' : `unable to request lines on chip '/dev/${chip ?? ''}'`);
      if (v === 2 && opts.banner === true) emit(`Monitoring line '${line}'...\n`);
      return;
    }
    if (edges !== 'both' && edges !== r.edge) return;
    const ns = BigInt(r.ns ?? '0');
    const sec = String(ns / 1000000000n);
    const nsec = String(ns % 1000000000n);
    const rising = r.edge === 'rising';
    const offset = r.offset ?? 0;
    const chipName = r.chip ?? chip ?? '';
    if (!quiet) {
      if (fmt === undefined && v === 1) {
        emit(`event: ${rising ? ' RISING EDGE' : 'FALLING EDGE'} offset: ${offset} timestamp: [${sec.padStart(8)}.${nsec.padStart(9, '0')}]\n`);
      } else if (fmt === undefined) {
        const quote = opts.unquoted === true ? '' : '"';
        const id = r.name === undefined ? `${chipName} ${offset}` : `${chip !== undefined ? `${chipName} ${offset} ` : ''}${quote}${r.name}${quote}`;
        emit(`${sec}.${nsec.padStart(9, '0')}\t${rising ? 'rising' : 'falling'}\t${id}\n`);
      } else {
        const fields: Record<string, string> =
          v === 1
            ? { o: String(offset), e: rising ? '1' : '0', s: sec, n: nsec, '%': '%' }
            : { o: String(offset), e: rising ? '1' : '2', E: rising ? 'rising' : 'falling', S: `${sec}.${nsec.padStart(9, '0')}`, U: `${sec}.${nsec.padStart(9, '0')}`, L: `${sec}.${nsec.padStart(9, '0')}`, l: r.name ?? 'unnamed', c: chipName, '%': '%' };
        emit(fmt.replace(/%(.?)/g, (m: string, c: string) => fields[c] ?? (c === '' ? '%' : m)) + '\n');
      }
    }
    done += 1;
    if (wanted > 0 && done >= wanted) finish(0);
  });
  sock.on('close', () => die('error waiting for events: connection to the simulated kernel lost'));
}
