import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import { cliPath } from '../../simulator/agent-process.js';

/** `nrec ingest …` as a child process (what production runs); keeps every output line of every run. */
export class IngestProcess {
  readonly lines: string[] = [];
  readonly #events = new EventEmitter();
  #child: ChildProcess | undefined;
  /** Index into `lines` where the current run began. */
  runStart = 0;

  /** `name` appears in errors (several workers); `logLevel` is the child's NREC_LOG_LEVEL (default info). */
  constructor(readonly args: string[], readonly opts: { name?: string; logLevel?: string } = {}) {}

  /** Starts it and resolves once it has connected and subscribed ("ready" on stdout). */
  async start(): Promise<void> {
    this.runStart = this.lines.length;
    const child = spawn(process.execPath, [cliPath(), 'ingest', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NREC_LOG_LEVEL: this.opts.logLevel ?? 'info' } });
    this.#child = child;
    for (const s of [child.stdout, child.stderr]) {
      createInterface({ input: s }).on('line', (l) => {
        this.lines.push(l);
        this.#events.emit('line', l);
      });
    }
    await this.waitForLine('"ready":true', this.runStart);
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves with the first line from `from` on that contains `text`. */
  waitForLine(text: string, from = 0, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.slice(from).find((l) => l.includes(text));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const on = (l: string) => {
        if (!l.includes(text)) return;
        clearTimeout(t);
        this.#events.off('line', on);
        resolve(l);
      };
      const t = setTimeout(() => {
        this.#events.off('line', on);
        reject(new Error(`${this.opts.name ?? 'nrec ingest'} printed no "${text}" within ${timeoutMs} ms; last lines:\n${this.lines.slice(-10).join('\n')}`));
      }, timeoutMs);
      this.#events.on('line', on);
    });
  }

  /** Parsed JSON log lines with this message (all runs). */
  logs(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Sends a signal (SIGKILL: a crash) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}
