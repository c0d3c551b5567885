import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import { LinkProxy, type LinkOptions } from './link-proxy.js';

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${v}"`);
  return n;
}

/** Parses `host:port` (the host may be omitted: `:1883` or `1883`). */
export function parseTarget(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = i <= 0 ? '127.0.0.1' : s.slice(0, i);
  const port = Number(i < 0 ? s : s.slice(i + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--target must be HOST:PORT, got "${s}"`);
  return { host, port };
}

/** Applies one stdin control line; returns what to print. */
function control(proxy: LinkProxy, line: string): string {
  const [cmd, arg] = line.trim().split(/\s+/);
  switch (cmd) {
    case '': return '';
    case 'cut': proxy.cut({ reset: arg === 'reset' }); return `link cut${arg === 'reset' ? ' (reset)' : ''}`;
    case 'restore': proxy.restore(); return 'link restored';
    case 'up': proxy.setOptions({ upKbps: arg === 'unlimited' ? undefined : num('up', arg) }); return `up ${arg} kbit/s`;
    case 'down': proxy.setOptions({ downKbps: arg === 'unlimited' ? undefined : num('down', arg) }); return `down ${arg} kbit/s`;
    case 'latency': proxy.setOptions({ latencyMs: num('latency', arg) }); return `latency ${arg} ms`;
    case 'stats': return JSON.stringify(proxy.stats());
    default: return `unknown command "${cmd}"; try: cut | cut reset | restore | up KBPS | down KBPS | latency MS | stats`;
  }
}

/** `nrec link`: runs the link impairment proxy until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  let opts: LinkOptions;
  let target: { host: string; port: number };
  let listen: number;
  const { values } = parseCommandArgs(argv, {
    options: {
      target: { type: 'string' }, listen: { type: 'string' }, up: { type: 'string' }, down: { type: 'string' },
      latency: { type: 'string' }, buffer: { type: 'string' },
    },
  });
  try {
    if (values.target === undefined) throw new Error('--target HOST:PORT is required');
    target = parseTarget(values.target);
    listen = num('listen', values.listen) ?? 0;
    opts = { upKbps: num('up', values.up), downKbps: num('down', values.down), latencyMs: num('latency', values.latency), bufferBytes: num('buffer', values.buffer) };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let proxy: LinkProxy;
  try {
    proxy = await LinkProxy.start(target, opts, listen);
  } catch (err) {
    process.stderr.write(`nrec link: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`link proxy listening on ${proxy.url} → ${target.host}:${target.port} ` +
    `(up ${opts.upKbps ?? 'unlimited'} kbit/s, down ${opts.downKbps ?? 'unlimited'} kbit/s, latency ${opts.latencyMs ?? 0} ms)\n`);
  const rl = createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    try {
      const out = control(proxy, line);
      if (out !== '') process.stdout.write(`${out}\n`);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
    }
  });
  const ac = new AbortController();
  await Promise.race([once(process, 'SIGINT', { signal: ac.signal }), once(process, 'SIGTERM', { signal: ac.signal })]).catch(() => undefined);
  ac.abort();
  rl.close();
  await proxy.close();
  return 0;
}
