import { EventEmitter, once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bounceButton, holdButton } from './button-gestures.js';
import { gpiodToolMain, type KernelReply, type KernelRequest, type ToolScriptConfig } from './gpiod-tool-script.js';

export interface GpiodStandInOptions {
  /** Major version whose command-line syntax and output the tools imitate. */
  version: 1 | 2;
  /** Directory for the tools and state; a fresh temp dir when unset (removed by `close()`). */
  dir?: string;
  /** Chip device name. */
  chip?: string;
  ngpio?: number;
  /** Line names by offset; default `GPIO0`…`GPIO<n-1>` as on a Raspberry Pi. */
  names?: Record<number, string>;
  /** Offset of the button the press helpers act on. */
  buttonOffset?: number;
  /** Physical level of the button at rest: 1 for a button to ground with a pull-up. */
  restLevel?: 0 | 1;
  /** Like the kernel, refuse a second requester of a held line with EBUSY. Off lets gpioget read a monitored line. */
  exclusive?: boolean;
}

/** Emitted as `output` whenever a gpioset claims a line. */
export interface GpiodOutputChange {
  offset: number;
  /** Physical level driven. */
  physical: 0 | 1;
  pid: number;
}

interface Holder {
  kind: 'monitor' | 'set';
  sock: Socket;
  activeLow: boolean;
  pid: number;
}

const versionStrings = { 1: '1.6.3', 2: '2.1' } as const;

/** Writes the tool executables for `cfg.version` into `toolsDir`. v2 has no gpiofind, as in libgpiod 2. */
function writeTools(toolsDir: string, base: Omit<ToolScriptConfig, 'tool'>): void {
  const tools = base.version === 1 ? (['gpiomon', 'gpioget', 'gpioset', 'gpiofind'] as const) : (['gpiomon', 'gpioget', 'gpioset'] as const);
  for (const tool of tools) {
    const file = join(toolsDir, tool);
    // `__name` covers the helper some transpilers wrap named functions in.
    const src = ['#!/usr/bin/env node', "'use strict';", 'var __name = (f) => f;', `(${gpiodToolMain.toString()})(${JSON.stringify({ ...base, tool })}, require('node:net'), require('node:fs'), require('node:path'));`, ''].join('\n');
    writeFileSync(file, src);
    chmodSync(file, 0o755);
  }
}

/**
 * The simulated kernel behind the libgpiod tool stand-ins, and the test's
 * handle on the line. Tools reach it over a Unix socket; a held line (gpiomon,
 * gpioset) is released when its tool exits, however it exits.
 *
 * Events: `monitor` (pid) when a gpiomon holds the line, `monitor-exit` (pid),
 * `output` (GpiodOutputChange).
 */
export class GpiodLineController extends EventEmitter {
  /** Directory holding gpiomon/gpioget/gpioset(/gpiofind): pass as `toolsDir`. */
  readonly toolsDir: string;
  /** Where gpiomon writes its pid (`gpiomon.pid`) and gpioset levels land (`output-<offset>`). */
  readonly stateDir: string;
  readonly version: 1 | 2;
  readonly chip: string;
  readonly #dir: string;
  readonly #ownsDir: boolean;
  readonly #server: Server;
  readonly #ngpio: number;
  readonly #names: Record<number, string>;
  readonly #button: number;
  readonly #rest: 0 | 1;
  readonly #exclusive: boolean;
  readonly #physical = new Map<number, 0 | 1>();
  readonly #holders = new Map<number, Holder>();
  readonly #sockets = new Set<Socket>();

  private constructor(opts: GpiodStandInOptions, server: Server, dir: string) {
    super();
    this.version = opts.version;
    this.chip = opts.chip ?? 'gpiochip0';
    this.#ngpio = opts.ngpio ?? 54;
    this.#names = opts.names ?? Object.fromEntries(Array.from({ length: this.#ngpio }, (_, i) => [i, `GPIO${i}`]));
    this.#button = opts.buttonOffset ?? 17;
    this.#rest = opts.restLevel ?? 1;
    this.#exclusive = opts.exclusive ?? true;
    this.#ownsDir = opts.dir === undefined;
    this.#dir = dir;
    this.toolsDir = join(dir, 'bin');
    this.stateDir = join(dir, 'state');
    this.#server = server;
    this.#physical.set(this.#button, this.#rest);
    server.on('connection', (sock) => this.#accept(sock));
  }

  /** Builds the tools and starts the simulated kernel. */
  static async create(opts: GpiodStandInOptions): Promise<GpiodLineController> {
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'nrec-gpiod-'));
    mkdirSync(join(dir, 'bin'), { recursive: true });
    mkdirSync(join(dir, 'state'), { recursive: true });
    const socket = join(dir, 'state', 'kernel.sock');
    rmSync(socket, { force: true });
    writeTools(join(dir, 'bin'), { version: opts.version, versionString: versionStrings[opts.version], socket, stateDir: join(dir, 'state') });
    const server = createServer();
    server.listen(socket);
    await once(server, 'listening');
    return new GpiodLineController(opts, server, dir);
  }

  /** The button line's offset. */
  get buttonOffset(): number {
    return this.#button;
  }

  /** Pid of the gpiomon holding the button line, if one does. */
  monitorPid(): number | undefined {
    const h = this.#holders.get(this.#button);
    return h?.kind === 'monitor' ? h.pid : undefined;
  }

  /** Pid from the file gpiomon writes when it starts (survives the controller's view of the socket). */
  monitorPidFromFile(): number | undefined {
    try {
      return Number(readFileSync(join(this.stateDir, 'gpiomon.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /** Resolves with the pid once a gpiomon holds the button line. */
  async waitForMonitor(): Promise<number> {
    const pid = this.monitorPid();
    if (pid !== undefined) return pid;
    const [next] = (await once(this, 'monitor')) as [number];
    return next;
  }

  /** Presses the button. */
  press(): void {
    this.setPhysical(this.#button, this.#rest === 1 ? 0 : 1);
  }

  /** Releases the button. */
  release(): void {
    this.setPhysical(this.#button, this.#rest);
  }

  /** Presses, waits `ms`, releases. */
  async hold(ms: number): Promise<void> {
    await holdButton(this, ms);
  }

  /** A short pulse. */
  async glitch(ms: number): Promise<void> {
    await this.hold(ms);
  }

  /** Toggles pressed/released (starting pressed) with the given durations, then settles on `end`. */
  async bounce(pattern: number[], end: 'pressed' | 'released' = 'pressed'): Promise<void> {
    await bounceButton(this, pattern, end);
  }

  /** Changes a line's physical level; edges go to its monitor unless `lost` (an event the kernel dropped). */
  setPhysical(offset: number, level: 0 | 1, opts: { lost?: boolean } = {}): void {
    const before = this.#physical.get(offset) ?? 0;
    this.#physical.set(offset, level);
    if (before === level || opts.lost === true) return;
    const h = this.#holders.get(offset);
    if (h?.kind !== 'monitor') return;
    const ns = process.hrtime.bigint(); // CLOCK_MONOTONIC, as the kernel stamps edge events
    const physicalRising = level === 1;
    const edge = physicalRising !== h.activeLow ? 'rising' : 'falling';
    this.#reply(h.sock, { edge, ns: String(ns), offset, chip: this.chip, name: this.#names[offset] });
  }

  /** Physical level last driven by a gpioset on `offset`. */
  outputLevel(offset: number): 0 | 1 | undefined {
    try {
      const t = readFileSync(join(this.stateDir, `output-${offset}`), 'utf8').trim();
      return t === '1' ? 1 : t === '0' ? 0 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops the simulated kernel (tools still running lose their connection and exit) and removes its directory if it made it. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
    if (this.#ownsDir) rmSync(this.#dir, { recursive: true, force: true });
  }

  #accept(sock: Socket): void {
    this.#sockets.add(sock);
    let buf = '';
    let handled = false;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const k = buf.indexOf('\n');
      if (k < 0 || handled) return;
      handled = true;
      this.#handle(sock, JSON.parse(buf.slice(0, k)) as KernelRequest);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.#sockets.delete(sock);
      for (const [offset, h] of this.#holders) {
        if (h.sock !== sock) continue;
        this.#holders.delete(offset);
        if (h.kind === 'monitor') this.emit('monitor-exit', h.pid);
      }
    });
  }

  #resolve(req: KernelRequest): KernelReply & { offset?: number } {
    if (req.chip !== undefined && ![this.chip, this.chip.replace(/^gpiochip/, ''), `/dev/${this.chip}`].includes(req.chip)) return { error: 'nochip' };
    const numeric = /^\d+$/.test(req.line) && req.chip !== undefined && !req.byName;
    if (numeric) {
      const offset = Number(req.line);
      return offset < this.#ngpio ? { ok: true, chip: this.chip, offset, name: this.#names[offset] } : { error: 'range' };
    }
    const found = Object.entries(this.#names).find(([, n]) => n === req.line);
    return found === undefined ? { error: 'noline' } : { ok: true, chip: this.chip, offset: Number(found[0]), name: found[1] };
  }

  #handle(sock: Socket, req: KernelRequest): void {
    const r = this.#resolve(req);
    if (r.ok !== true || r.offset === undefined || req.op === 'resolve') {
      this.#reply(sock, r);
      if (req.op !== 'resolve' || r.ok !== true) sock.end();
      return;
    }
    const offset = r.offset;
    const holder = this.#holders.get(offset);
    if (req.op === 'get') {
      if (holder !== undefined && this.#exclusive) return this.#reply(sock, { error: 'busy' });
      const p = this.#physical.get(offset) ?? 0;
      return this.#reply(sock, { ...r, value: (req.activeLow ? 1 - p : p) as 0 | 1 });
    }
    if (holder !== undefined) return this.#reply(sock, { error: 'busy' });
    this.#holders.set(offset, { kind: req.op, sock, activeLow: req.activeLow, pid: req.pid });
    if (req.op === 'set') {
      const logical = req.value ?? 0;
      const physical = (req.activeLow ? 1 - logical : logical) as 0 | 1;
      this.#physical.set(offset, physical);
      writeFileSync(join(this.stateDir, `output-${offset}`), `${physical}\n`);
      this.#reply(sock, { ...r, ok: true });
      this.emit('output', { offset, physical, pid: req.pid } satisfies GpiodOutputChange);
      return;
    }
    this.#reply(sock, { ...r, ok: true });
    this.emit('monitor', req.pid);
  }

  #reply(sock: Socket, reply: KernelReply): void {
    if (!sock.destroyed) sock.write(JSON.stringify(reply) + '\n');
  }
}

/** Generates the libgpiod tool stand-ins (v1 or v2 syntax) and returns their controller. */
export function createGpiodToolsStandIn(opts: GpiodStandInOptions): Promise<GpiodLineController> {
  return GpiodLineController.create(opts);
}
