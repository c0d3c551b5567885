import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cliPath } from '../simulator/agent-process.js';

/**
 * `nrec ingest` as its own process, as the platform runs it: a benchmark that
 * measures a device must not share its event loop with the ingest (a SQLite
 * commit holds the loop for its fsync). Extra node flags for the ingest (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`) come from $BENCH_INGEST_NODE_ARGS.
 */
export class IngestProcess {
  readonly #child: ChildProcess;
  /** The last line it printed (its stats, once stopped); warnings would pile up otherwise. */
  #lastLine: string | undefined;
  #stderr = '';

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  /** Starts an ingest on `storeDir` (and `db`, default SQLite in it); resolves once it is connected and subscribed. */
  static async start(o: { brokerUrl: string; storeDir: string; db?: string; logLevel?: string }): Promise<IngestProcess> {
    const nodeArgs = (process.env.BENCH_INGEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const args = [...nodeArgs, cliPath(), 'ingest', '--broker', o.brokerUrl, '--store', o.storeDir, ...(o.db === undefined ? [] : ['--db', o.db])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NREC_LOG_LEVEL: o.logLevel ?? 'warn' } });
    const p = new IngestProcess(child);
    // A benchmark that dies of an exception leaves no ingest behind.
    const orphan = () => child.kill('SIGKILL');
    process.once('exit', orphan);
    child.once('exit', () => process.off('exit', orphan));
    child.stderr?.on('data', (d: Buffer) => { p.#stderr = (p.#stderr + d.toString()).slice(-4000); });
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`nrec ingest exited (${code}) before it was ready: ${p.#stderr}`));
      child.once('exit', onExit);
      lines.on('line', (line) => {
        p.#lastLine = line;
        if (line.includes('"ready":true')) {
          child.off('exit', onExit);
          resolve();
        }
      });
    });
    return p;
  }

  /** SIGTERM: the ingest finishes the batch in hand and exits; resolves with its stats (its last line, parsed). */
  async stop(): Promise<unknown> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    }
    if (child.exitCode !== 0) throw new Error(`nrec ingest exited with ${child.exitCode ?? child.signalCode}: ${this.#stderr}`);
    try {
      return this.#lastLine === undefined ? undefined : JSON.parse(this.#lastLine);
    } catch {
      return undefined;
    }
  }
}
