import type { Logger } from '../../lib/logger.js';
import type { CommandRegistry, ResultBody } from '../commands/command-registry.js';
import { clearPending, confirmDecision, rollBack, writePending, type HealthProbe, type PendingChange } from './commit-confirm.js';

export interface ConfirmWatchDeps {
  configPath: string;
  pending: PendingChange;
  commands: CommandRegistry;
  /** Puts a result in the outbox, then forgets its request (resolves once durable). */
  sendResult: (r: ResultBody) => Promise<void>;
  /** Queues a device event. */
  event: (body: { kind: string; severity: 'info' | 'warning' | 'critical'; message: string; data?: Record<string, unknown> }, urgent: boolean) => void;
  /** Is the agent healthy now (see HealthProbe)? */
  probe: () => HealthProbe;
  /** Restarts the agent with the configuration on disk (after a rollback). */
  requestRestart: (why: string) => void;
  logger: Logger;
  pollMs?: number;
  now?: () => number;
}

/**
 * The running half of a commit-confirmed change (commit-confirm.ts holds the state and the
 * decisions). With a pending change it polls the agent's health until the change is healthy
 * (commit) or the deadline passes (roll back, restart); a change already decided before this
 * start is reported: the config.set's deferred result and a device event, then the state goes.
 */
export class ConfirmWatch {
  readonly #d: ConfirmWatchDeps;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #deciding = false;

  constructor(d: ConfirmWatchDeps) {
    this.#d = d;
    this.#now = d.now ?? Date.now;
    // Answered by this watch, not by the replay of unanswered commands.
    d.commands.defer(d.pending.requestId);
  }

  start(): void {
    const p = this.#d.pending;
    if (p.phase !== 'pending') {
      void this.#report(p);
      return;
    }
    this.#d.logger.warn({ requestId: p.requestId, changed: p.changed, deadline: new Date(p.deadlineAt).toISOString(), boot: p.boots }, 'configuration change applied; waiting for the agent to be healthy before committing it');
    this.#timer = setInterval(() => void this.#check(), this.#d.pollMs ?? 500);
    void this.#check();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #check(): Promise<void> {
    if (this.#deciding || this.#timer === undefined) return;
    const p = this.#d.pending;
    const decision = confirmDecision(p, this.#d.probe(), this.#now());
    if (decision.action === 'wait') return;
    this.#deciding = true;
    this.stop();
    try {
      if (decision.action === 'commit') {
        const committed: PendingChange = { ...p, phase: 'committed' };
        await writePending(this.#d.configPath, committed);
        await this.#report(committed);
        return;
      }
      this.#d.logger.error({ requestId: p.requestId, reason: decision.reason }, 'configuration change not healthy in time: restoring the previous configuration');
      await rollBack(this.#d.configPath, p, decision.reason);
      this.#d.requestRestart(`rolling back configuration change ${p.requestId}`);
    } catch (err) {
      // The state file is the source of truth: the next start decides again from it.
      this.#d.logger.error({ err: (err as Error).message, requestId: p.requestId }, 'configuration change could not be settled');
    }
  }

  /** The deferred result and an event, then the state is removed (a crash in between reports it again). */
  async #report(p: PendingChange): Promise<void> {
    const d = this.#d;
    const ok = p.phase === 'committed';
    const body = d.commands.complete(p.requestId, p.name, ok
      ? { result: { committed: true, changed: p.changed } }
      : { status: 'error', reason: `rolled back to the previous configuration: ${p.reason ?? 'unknown reason'}`, result: { rolledBack: true, changed: p.changed } });
    d.event(ok
      ? { kind: 'config.committed', severity: 'info', message: `configuration change ${p.requestId} committed: ${p.changed.join(', ')}`, data: { requestId: p.requestId, changed: p.changed } }
      : { kind: 'config.rolled-back', severity: 'critical', message: `configuration change ${p.requestId} (${p.changed.join(', ')}) rolled back: ${p.reason ?? ''}`, data: { requestId: p.requestId, changed: p.changed, reason: p.reason } }, !ok);
    try {
      await d.sendResult(body);
      await clearPending(d.configPath);
      d.logger.info({ requestId: p.requestId, outcome: p.phase }, 'configuration change settled');
    } catch (err) {
      d.logger.error({ err: (err as Error).message, requestId: p.requestId }, 'configuration change outcome not stored; reported again at the next start');
    }
  }
}
