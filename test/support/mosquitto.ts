import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { freePort } from './ports.js';
import { makeTempDir, type TempDir } from './temp.js';
import { requireTool } from './tools.js';

export interface MosquittoOptions {
  /** Extra config lines appended after the listener (use {port} and {dir} placeholders). */
  extraConfig?: string;
  /** Replace the default listener block entirely (for TLS); must contain {port}. */
  listenerConfig?: string;
  /** Reuse a port (to restart a broker where clients expect it). */
  port?: number;
  /**
   * Turn Mosquitto's persistence on (saved in this directory, or the broker's own temp dir),
   * for a test about that setting. Off by default, as Mosquitto ships: a restarted broker has
   * lost every session and queued message, which is what the platform must survive.
   */
  persistence?: boolean;
  dataDir?: string;
  /** Files written into the broker's directory before it starts (an ACL, a password file), by name. */
  files?: Record<string, string>;
  /** More listeners: a free port for each name, `{port:NAME}` in the config, `ports[NAME]` on the broker. */
  namedPorts?: string[];
}

/**
 * A real Mosquitto started by a test on a free port with its own config and
 * Mosquitto's default settings (persistence off, 1000 queued messages per
 * session, 20 in flight), so tests meet the broker users run.
 */
export class Mosquitto {
  readonly port: number;
  /** The ports of `namedPorts`. */
  readonly ports: Readonly<Record<string, number>>;
  readonly url: string;
  readonly dir: TempDir;
  #child: ChildProcess | undefined;
  #log = '';
  readonly #opts: MosquittoOptions;

  private constructor(port: number, ports: Record<string, number>, dir: TempDir, opts: MosquittoOptions) {
    this.port = port;
    this.ports = ports;
    this.dir = dir;
    this.url = `mqtt://127.0.0.1:${port}`;
    this.#opts = opts;
  }

  /** Starts a broker and resolves once it accepts TCP connections. */
  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = opts.port ?? (await freePort());
    const ports: Record<string, number> = {};
    const taken = new Set([port]);
    for (const name of opts.namedPorts ?? []) {
      let p = await freePort();
      while (taken.has(p)) p = await freePort(); // the kernel may hand out a just-freed port again
      taken.add(p);
      ports[name] = p;
    }
    const m = new Mosquitto(port, ports, await makeTempDir('nrec-mosq-'), opts);
    await m.#spawn();
    return m;
  }

  /** Broker output so far (for failure messages). */
  get log(): string {
    return this.#log;
  }

  async #spawn(): Promise<void> {
    const bin = requireTool('mosquitto', ['/usr/sbin/mosquitto']);
    const dataDir = this.#opts.dataDir ?? this.dir.path;
    const fill = (s: string) => Object.entries(this.ports).reduce((t, [name, port]) => t.replaceAll(`{port:${name}}`, String(port)), s)
      .replaceAll('{port}', String(this.port)).replaceAll('{dir}', this.dir.path);
    const listener = this.#opts.listenerConfig ?? 'listener {port} 127.0.0.1\nallow_anonymous true';
    const persist = this.#opts.persistence === true || this.#opts.dataDir !== undefined;
    const conf = [
      // Started as root, mosquitto switches to the user "mosquitto" and then cannot read this
      // root-owned 0700 temp dir (its config includes, persistence).
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      fill(listener),
      ...(persist ? ['persistence true', `persistence_location ${dataDir}/`] : []),
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      fill(this.#opts.extraConfig ?? ''),
    ].join('\n');
    for (const [name, text] of Object.entries(this.#opts.files ?? {})) await writeFile(this.dir.file(name), text);
    const confPath = this.dir.file('mosquitto.conf');
    await writeFile(confPath, `${conf}\n`);
    const child = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stdout?.on('data', (d: Buffer) => { this.#log += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.#log += d.toString(); });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${this.#log}`);
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`mosquitto did not listen on ${this.port} within 10 s: ${this.#log}`);
  }

  /** Stops the broker (SIGTERM, then SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGHUP: the broker re-reads its password and ACL files. */
  reload(): void {
    this.#child?.kill('SIGHUP');
  }

  /** kill -9: the broker dies without saving anything (its in-memory sessions and queues are gone). */
  async kill9(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the broker again (after stop or kill9) on the same port with the same config and data. */
  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('mosquitto is running');
    await this.#spawn();
  }

  /** Starts the broker again on the same port with the same config and data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  /** Stops the broker and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.dir.remove();
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
