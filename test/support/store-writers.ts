import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AcceptedMessage } from '../../platform/store/index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The compiled store-writer.js (tests run from source; the child runs the build). */
function writerPath(): string {
  const candidates = [join(here, 'store-writer.js'), join(here, '..', '..', 'dist', 'test', 'support', 'store-writer.js')];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`compiled store writer not found (looked in ${candidates.join(', ')}): run "npm run build"`);
  return found;
}

/** A store instance in a child process (store-writer.ts), started and waiting for go(). */
export class StoreWriter {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #ready: Promise<void>;
  readonly #done: Promise<boolean[][]>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    const rl = createInterface({ input: child.stdout! });
    let onReady: () => void;
    this.#ready = new Promise((r) => { onReady = r; });
    rl.on('line', (l) => {
      this.#lines.push(l);
      if (l === 'ready') onReady();
    });
    this.#done = once(child, 'close').then(() => {
      const last = this.#lines.at(-1) ?? '';
      const out = last.startsWith('{') ? (JSON.parse(last) as { stored?: boolean[][]; error?: string }) : {};
      if (out.stored === undefined) throw new Error(`store writer failed: ${out.error ?? this.#lines.join('\n')} ${err}`);
      return out.stored;
    });
    // Surface a failure before "ready" to whoever waits for it.
    this.#ready = Promise.race([this.#ready, this.#done.then(() => undefined)]);
  }

  /** Spawns a writer that will commit `batches` to the store at `url`; `file` is where the batches are written for it. */
  static async start(url: string, batches: AcceptedMessage[][], file: string): Promise<StoreWriter> {
    await writeFile(file, JSON.stringify(batches));
    const child = spawn(process.execPath, [writerPath(), url, file], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new StoreWriter(child);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** Starts committing; resolves with the stored flags of each batch. */
  go(): Promise<boolean[][]> {
    this.#child.stdin?.end('go\n');
    return this.#done;
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}
