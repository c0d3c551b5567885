import type { Logger } from '../../lib/logger.js';
import type { Scheduler } from '../../lib/scheduler.js';
import type { PlatformStore } from '../store/types.js';
import { ChannelError, targetAddress, type Channel, type ChannelSet } from './channels/index.js';
import type { ContactBook, ResolvedContact, ResolvedEscalation, Target } from './contacts/book.js';
import { attemptDone, claimStep, history, insertAttempt, reschedule, takeOver, touch, type AttemptRow, type DeskRow } from './desk-rows.js';
import { bestFix } from './desk-view.js';
import { dueStep, type EscalationPlan, type Step } from './escalation.js';
import { buildNotice, type Notice } from './notice.js';

/*
 * Running escalation steps: decide with the pure policy (escalation.ts),
 * claim the step in the database (the claim and every notification it
 * makes are one transaction: all pending, owned by this desk, with a lease),
 * then send each notification and record how it went. A desk that died
 * mid-send leaves attempts pending; once their lease runs out another desk
 * (or this one, restarted) sends them again under the same idempotency key.
 */

export interface StepDeps {
  store: PlatformStore;
  channels: ChannelSet;
  contacts: () => ContactBook;
  clock: Scheduler;
  logger: Logger;
  owner: string;
  leaseMs: number;
  /** Something about this alarm changed (the desk re-reads it and emits `change`). */
  changed: (deviceId: string, alarmId: string) => void;
}

export function planOf(e: ResolvedEscalation): EscalationPlan {
  return { tiers: e.tiers.map((t) => ({ delayMs: t.delayMs })), repeatMs: e.repeatMs };
}

/** One notification of a step: a contact's target. The key suffix tells two targets of one channel apart. */
interface Planned {
  contact: ResolvedContact;
  target: Target;
  key: string;
}

export function attemptKey(deviceId: string, alarmId: string, s: { tier: number; attempt: number }, channel: string, contactId: string, n: number): string {
  return `${deviceId}/${alarmId}:${s.tier}:${s.attempt}:${channel}:${contactId}${n > 0 ? `.${n}` : ''}`;
}

function planned(deviceId: string, alarmId: string, step: Step, e: ResolvedEscalation): Planned[] {
  const tier = e.tiers[Math.min(step.tier, e.tiers.length - 1)];
  const out: Planned[] = [];
  const seen = new Set<string>();
  for (const contact of tier.contacts) {
    if (seen.has(contact.id)) continue;
    seen.add(contact.id);
    const perChannel = new Map<string, number>();
    for (const target of contact.targets) {
      const n = perChannel.get(target.channel) ?? 0;
      perChannel.set(target.channel, n + 1);
      out.push({ contact, target, key: attemptKey(deviceId, alarmId, step, target.channel, contact.id, n) });
    }
  }
  return out;
}

const recipient = (c: ResolvedContact, t: Target) => `${c.name} <${targetAddress(t)}>`;

export class StepRunner {
  readonly #d: StepDeps;
  readonly #inFlight = new Set<Promise<void>>();
  /** Alarms already reported as having no escalation (reported once, not every poll). */
  readonly #unplanned = new Set<string>();

  constructor(d: StepDeps) {
    this.#d = d;
  }

  /** Waits for the notifications being sent (bounded: a hung channel must not hold a shutdown forever). */
  async drain(maxMs: number): Promise<void> {
    if (this.#inFlight.size === 0) return;
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, maxMs).unref())]);
  }

  /**
   * Runs the step that is due for this alarm, if any and if this desk wins the
   * claim. Resolves once the step is claimed and recorded; the notifications
   * go on in the background.
   */
  async runDue(row: DeskRow): Promise<void> {
    const d = this.#d;
    const book = d.contacts();
    const esc = book.escalationFor(row.deviceId);
    const k = `${row.deviceId}/${row.alarmId}`;
    if (esc === undefined) {
      if (!this.#unplanned.has(k)) {
        this.#unplanned.add(k);
        d.logger.warn({ deviceId: row.deviceId, alarmId: row.alarmId, contacts: book.file }, 'ALARM NOT NOTIFIED: the contacts file names no escalation for this device (nor a default); only the console shows it');
      }
      return;
    }
    this.#unplanned.delete(k);
    const now = d.clock.now();
    const last = row.step > 0 ? { tier: row.tier, attempt: row.attempt, at: row.stepAt ?? row.receivedAt } : undefined;
    const due = dueStep(planOf(esc), last, row.receivedAt, now);
    if (due.run === undefined) {
      if (due.nextAt !== row.nextStepAt) await d.store.transact([reschedule(row, due.nextAt, now)]);
      return;
    }
    const step = due.run;
    const plan = planned(row.deviceId, row.alarmId, step, esc);
    const leaseUntil = now + d.leaseMs;
    const claimed = await d.store.transact([
      claimStep(row, step, due.nextAt, now),
      history(row.deviceId, row.alarmId, 'notifying', now),
      ...plan.map((p) => insertAttempt({
        key: p.key, deviceId: row.deviceId, alarmId: row.alarmId, tier: step.tier, attempt: step.attempt, channel: p.target.channel,
        contact: p.contact.id, recipient: recipient(p.contact, p.target), at: now, owner: d.owner, leaseUntil,
      })),
    ]);
    if (claimed === undefined) return; // another desk ran this step
    const late = now - step.at;
    d.logger.warn({ deviceId: row.deviceId, alarmId: row.alarmId, tier: step.tier + 1, reminder: step.attempt, notifications: plan.length, escalation: esc.source, ...(late > 1000 ? { lateMs: late } : {}) }, step.tier === 0 && step.attempt === 0 ? 'alarm: notifying the first tier' : step.attempt === 0 ? 'alarm not acknowledged: escalating to the next tier' : 'alarm not acknowledged: notifying the tier again');
    d.changed(row.deviceId, row.alarmId);
    if (plan.length === 0) return;
    const notice = await this.#notice(row, step, book);
    for (const p of plan) this.#track(this.#deliver({ ...notice, key: p.key }, p, d.owner));
  }

  /** Sends again what a dead desk left pending (lease run out), under the same key. */
  async recover(orphans: AttemptRow[], rowOf: (deviceId: string, alarmId: string) => Promise<DeskRow | undefined>): Promise<void> {
    const d = this.#d;
    const book = d.contacts();
    for (const a of orphans) {
      const now = d.clock.now();
      const taken = await d.store.transact([takeOver(a, d.owner, now + d.leaseMs)]);
      if (taken === undefined) continue;
      const row = await rowOf(a.deviceId, a.alarmId);
      const contact = book.escalationFor(a.deviceId)?.tiers.flatMap((t) => t.contacts).find((c) => c.id === a.contact);
      const target = contact?.targets.filter((t) => t.channel === a.channel)[Number(/\.(\d+)$/.exec(a.key)?.[1] ?? 0)];
      d.logger.warn({ deviceId: a.deviceId, alarmId: a.alarmId, key: a.key, previousOwner: a.owner }, 'notification left unfinished by a desk that stopped; sending it again');
      if (row === undefined || contact === undefined || target === undefined) {
        await d.store.transact([attemptDone(a.key, d.owner, { result: 'failed', latencyMs: 0, error: 'left unfinished by a desk that stopped; the contact or channel is no longer in the contacts file', tries: a.tries ?? 0 }), touch(a.deviceId, a.alarmId, now)]);
        d.changed(a.deviceId, a.alarmId);
        continue;
      }
      const notice = await this.#notice(row, { tier: a.tier, attempt: a.attempt, at: a.at }, book);
      this.#track(this.#deliver({ ...notice, key: a.key }, { contact, target, key: a.key }, d.owner));
    }
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #notice(row: DeskRow, step: Step, book: ContactBook): Promise<Notice> {
    const store = this.#d.store;
    const view = await store.alarm(row.deviceId, row.alarmId);
    const { fix, source } = await bestFix(store, view, row.deviceId);
    return buildNotice({
      key: '', deviceId: row.deviceId, deviceName: book.displayName(row.deviceId), alarmId: row.alarmId, state: 'notifying',
      trigger: view?.trigger ?? 'button', raisedAt: view?.raisedAt ?? row.receivedAt, receivedAt: row.receivedAt, tier: step.tier, attempt: step.attempt,
      ...(fix !== undefined ? { fix, fixSource: source } : {}), ...(view?.batteryPct !== undefined ? { batteryPct: view.batteryPct } : {}),
      acknowledge: book.acknowledge,
    }, this.#d.clock.now());
  }

  async #deliver(notice: Notice, p: Planned, owner: string): Promise<void> {
    const d = this.#d;
    const channel = d.channels[p.target.channel] as Channel;
    const started = performance.now();
    let outcome: { result: 'sent' | 'failed'; tries: number; error?: string; detail?: string };
    try {
      const r = await channel.send(notice, p.target, d.contacts().channels);
      outcome = { result: 'sent', tries: r.tries, ...(r.detail !== undefined ? { detail: r.detail } : {}) };
    } catch (err) {
      outcome = { result: 'failed', tries: err instanceof ChannelError ? err.tries : 1, error: (err as Error).message };
    }
    const latencyMs = performance.now() - started;
    const log = { deviceId: notice.deviceId, alarmId: notice.alarmId, channel: p.target.channel, contact: p.contact.id, recipient: recipient(p.contact, p.target), tier: notice.tier + 1, latencyMs: Math.round(latencyMs), tries: outcome.tries };
    if (outcome.result === 'sent') d.logger.info({ ...log, detail: outcome.detail }, 'alarm notification sent');
    else d.logger.error({ ...log, err: outcome.error }, 'alarm notification FAILED');
    try {
      await d.store.transact([attemptDone(p.key, owner, { result: outcome.result, latencyMs, error: outcome.error, tries: outcome.tries }), touch(notice.deviceId, notice.alarmId, d.clock.now())]);
    } catch (err) {
      // Left pending: once its lease runs out it is sent again (same key) rather than lost.
      d.logger.error({ ...log, err: (err as Error).message }, 'could not record a notification attempt; it stays pending and is sent again after its lease');
    }
    d.changed(notice.deviceId, notice.alarmId);
  }
}
