import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));

/** The compiled CLI (dist/cli.js), found from either the source tree or dist/. */
export function cliPath(): string {
  const candidates = [join(here, '..', 'cli.js'), join(here, '..', 'dist', 'cli.js'), join(here, '..', '..', 'dist', 'cli.js')];
  const found = candidates.find((p) => existsSync(p) && !p.endsWith(join('simulator', 'cli.js')));
  if (found === undefined) throw new Error(`compiled CLI not found (looked in ${candidates.join(', ')}): run "npm run build"`);
  return found;
}

/**
 * The agent as a real child process with a generated config, the way systemd
 * would run it. Its JSON log lines are kept (and optionally teed to a file)
 * so callers can wait for "agent ready" or any other line.
 */
export interface AgentProcessOptions {
  /**
   * A command the agent runs under, before node (`['strace', '-f', ...]`): `pid` is then the
   * wrapper's; kill the agent through the wrapper's process tree.
   */
  wrap?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

export class AgentProcess {
  readonly configPath: string;
  #child: ChildProcess | undefined;
  readonly lines: string[] = [];
  readonly #waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  readonly #logFile: string | undefined;
  readonly #opts: AgentProcessOptions;

  constructor(configPath: string, logFile?: string, opts: AgentProcessOptions = {}) {
    this.configPath = configPath;
    this.#logFile = logFile;
    this.#opts = opts;
  }

  /** Writes the config and starts the agent. */
  static async start(config: Record<string, unknown>, dir: string, logFile?: string): Promise<AgentProcess> {
    const configPath = join(dir, 'agent.json');
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    const a = new AgentProcess(configPath, logFile);
    a.spawn();
    return a;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** (Re)starts the process with the same config. */
  spawn(): void {
    // NREC_AGENT_NODE_ARGS passes extra node flags (e.g. --cpu-prof) to the agent for profiling.
    const nodeArgs = (process.env.NREC_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const argv = [process.execPath, ...nodeArgs, cliPath(), 'agent', '--config', this.configPath];
    const [cmd, ...args] = [...(this.#opts.wrap ?? []), ...argv];
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NREC_LOG_LEVEL: process.env.NREC_LOG_LEVEL ?? 'info', ...this.#opts.env },
    });
    this.#child = child;
    const tee = this.#logFile ? createWriteStream(this.#logFile, { flags: 'a' }) : undefined;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > 5000) this.lines.splice(0, 1000);
        tee?.write(`${line}\n`);
        for (let i = this.#waiters.length - 1; i >= 0; i--) {
          if (this.#waiters[i].test(line)) this.#waiters.splice(i, 1)[0].resolve(line);
        }
      });
    }
    child.once('exit', () => tee?.end());
  }

  /** Resolves with the first output line (past or future) containing `text`. */
  waitForLine(text: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const test = (l: string) => (typeof text === 'string' ? l.includes(text) : text.test(l));
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent did not print ${String(text)} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join('\n')}`)), timeoutMs);
      this.#waiters.push({ test, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  }

  /** Sends a signal and waits for the process to exit; returns its exit code (null when killed by signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
    return child.exitCode;
  }

  /** kill -9: no shutdown code runs, like a power cut for the process. */
  kill9(): Promise<number | null> {
    return this.stop('SIGKILL');
  }

  /** Waits for the process to exit by itself; returns the exit code. */
  async exited(): Promise<number | null> {
    const child = this.#child;
    if (child === undefined) return null;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    await once(child, 'exit');
    return child.exitCode;
  }
}
