import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { readJson, REPORTED_FILE, STATE_FILE, writeJson, type UpdateState } from './update-state.js';

export type UpdateEvent = { kind: 'update.committed' | 'update.failed'; severity: 'info' | 'warning' | 'critical'; message: string; data: Record<string, unknown> };

/**
 * Reports each finished update to the platform once: committed, or rolled
 * back and why. The updater (root) cannot publish; the agent that runs after
 * the outcome (the new release, or the old one after a rollback) reads the
 * updater's state and sends the event through its outbox, so the report is
 * durable even when the link is down.
 */
export class OutcomeReporter {
  readonly #dir: string;
  readonly #send: (e: UpdateEvent) => void;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(updateDir: string, send: (e: UpdateEvent) => void, logger: Logger) {
    this.#dir = updateDir;
    this.#send = send;
    this.#log = logger;
  }

  start(pollMs = 5000): void {
    const tick = () => void this.check().catch((err: Error) => this.#log.warn({ err: err.message }, 'update outcome not reported')).finally(() => {
      this.#timer = setTimeout(tick, pollMs);
      this.#timer.unref();
    });
    tick();
  }

  /** Sends the outcome of the last update if it is final and not yet sent. */
  async check(): Promise<void> {
    const state = await readJson<UpdateState>(join(this.#dir, STATE_FILE));
    if (state === undefined || state.phase === 'testing') return;
    const reported = (await readJson<string[]>(join(this.#dir, REPORTED_FILE))) ?? [];
    if (reported.includes(state.id)) return;
    const data = { updateId: state.id, release: state.release, previous: state.previous, ...(state.requestId ? { requestId: state.requestId } : {}), ...(state.reason ? { reason: state.reason } : {}) };
    if (state.phase === 'committed') this.#send({ kind: 'update.committed', severity: 'info', message: `update to ${state.release} committed`, data });
    else this.#send({ kind: 'update.failed', severity: 'warning', message: `update to ${state.release} rolled back to ${state.previous ?? '?'}: ${state.reason ?? 'no reason recorded'}`, data });
    await writeJson(join(this.#dir, REPORTED_FILE), [...reported.slice(-20), state.id], 0o600);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}
