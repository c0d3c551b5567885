import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { isValidId } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import { wallScheduler, type Scheduler, type TimerHandle } from '../../lib/scheduler.js';
import type { CommandSender } from '../commands/command-sender.js';
import type { IngestEvents } from '../ingest/ingest.js';
import type { PlatformStore, SqlStatement } from '../store/types.js';
import type { AlarmDetail } from '../store/views.js';
import { logArrivingAlarm } from './alarm-log.js';
import { defaultChannels, type ChannelSet } from './channels/index.js';
import type { ContactBook } from './contacts/book.js';
import * as sql from './desk-rows.js';
import { deskAlarm } from './desk-view.js';
import { StepRunner } from './steps.js';
import type { AlarmDeskApi, AlarmDeskEvents, DeskActionResult, DeskAlarm } from './types.js';

/** What the desk needs of the ingest (an Ingest): the alarms it stores. */
export interface DeskIngest {
  on<E extends keyof IngestEvents>(event: E, listener: (...args: IngestEvents[E]) => void): unknown;
  off<E extends keyof IngestEvents>(event: E, listener: (...args: IngestEvents[E]) => void): unknown;
}

/** The contacts file in force (a ContactsWatch, or a fixed book in tests). */
export interface ContactsSource {
  readonly current: ContactBook;
  on(event: 'reload', listener: (book: ContactBook) => void): unknown;
  off(event: 'reload', listener: (book: ContactBook) => void): unknown;
}

export interface AlarmDeskOptions {
  store: PlatformStore;
  ingest: DeskIngest;
  commands: Pick<CommandSender, 'send' | 'get' | 'on' | 'off'>;
  contacts: ContactsSource;
  logger: Logger;
  /** Epoch-ms clock and timers (default: the system's). */
  clock?: Scheduler;
  channels?: ChannelSet;
  /** Names this desk in the attempts it claims (default: host, pid and a random part). */
  owner?: string;
  /** Longest wait between looks at the database (due steps, other workers' changes, orphaned notifications); default 1000 ms. */
  pollMs?: number;
  /** A notification this desk claimed but did not finish is sent again by another after this long (default 2 min; longer than any channel's retries). */
  leaseMs?: number;
  /** Lifetime of the alarm.ack / alarm.resolve commands (default 24 h: a device away for hours still gets them). */
  commandTtlMs?: number;
  /** At start, open alarms the device sent within this long are taken on even if this desk never saw them (default 24 h). */
  adoptWithinMs?: number;
  /** Log every alarm message at warn as it arrives (default true). */
  logArrivals?: boolean;
  /** How long stop() waits for notifications in flight (default 10 s). */
  stopWaitMs?: number;
}

const OPEN = new Set(['raised', 'notifying']);

/** The request id of an alarm's ack (or resolve) command: derived, so every desk and every retry sends the same one. */
export function commandRequestId(kind: 'ack' | 'res', deviceId: string, alarmId: string): string {
  return `${kind}-${createHash('sha256').update(`${deviceId}/${alarmId}`).digest('base64url').slice(0, 40)}`;
}

/** How often a desk looks for open alarms in the store that no desk has taken on. */
const ADOPT_EVERY_MS = 10_000;

/**
 * The alarm desk: the platform's state machine for every alarm (raised →
 * notifying → acknowledged → resolved, or cancelled by the wearer), kept in
 * the store beside what the device reports, driven by the alarm messages the
 * ingest stores. It tells the emergency contacts tier by tier until someone
 * acknowledges, sends the device alarm.ack / alarm.resolve through the
 * command sender, and records every state change and notification attempt.
 *
 * Several desks (one per ingest worker) may share one database: each step of
 * an escalation is claimed with `UPDATE … WHERE step = expected`, so exactly
 * one desk notifies it, and the schedule (`next_step_at`) is in the database,
 * so a desk killed mid-escalation is replaced on time by the next one to look.
 * A device re-sending its alarm only adds messages: the desk's row exists
 * already and nobody is told twice.
 */
export class AlarmDesk extends EventEmitter<AlarmDeskEvents> implements AlarmDeskApi {
  readonly #o: Required<Omit<AlarmDeskOptions, 'clock' | 'channels' | 'owner'>> & { clock: Scheduler };
  readonly owner: string;
  readonly #steps: StepRunner;
  /** One chain of work per alarm, so what this desk does to one alarm happens in order. */
  readonly #chains = new Map<string, Promise<unknown>>();
  /** The version of each alarm last announced (own changes and other desks'). */
  readonly #announced = new Map<string, string>();
  #timer: TimerHandle | undefined;
  #ticking: Promise<void> | undefined;
  #adoptedAt = 0;
  #running = false;
  #lastSeen = 0;
  #tickError: string | undefined;

  constructor(o: AlarmDeskOptions) {
    super();
    this.#o = {
      pollMs: 1000, leaseMs: 120_000, stopWaitMs: 10_000, commandTtlMs: 24 * 3600_000, adoptWithinMs: 24 * 3600_000, logArrivals: true,
      ...o, clock: o.clock ?? wallScheduler,
    };
    this.owner = (o.owner ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`).slice(0, 120);
    this.#steps = new StepRunner({
      store: o.store, channels: o.channels ?? defaultChannels(), contacts: () => this.#o.contacts.current, clock: this.#o.clock, logger: o.logger,
      owner: this.owner, leaseMs: this.#o.leaseMs, changed: (d, a) => this.#changed(d, a),
    });
  }

  /** Listens to the ingest, takes on open alarms from the store, and starts the escalation clock. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#lastSeen = this.#o.clock.now();
    this.#o.ingest.on('stored', this.#onStored);
    this.#o.commands.on('settled', this.#onSettled);
    this.#o.contacts.on('reload', this.#onReload);
    await this.#adopt();
    for (const r of await this.#o.store.select(sql.SELECT_OPEN)) await this.#serial(String(r.device_id), String(r.alarm_id), () => this.#reconcile(String(r.device_id), String(r.alarm_id)));
    await this.#tick();
  }

  /** Stops looking; waits (stopWaitMs) for notifications in flight so their outcome is recorded. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#o.ingest.off('stored', this.#onStored);
    this.#o.commands.off('settled', this.#onSettled);
    this.#o.contacts.off('reload', this.#onReload);
    this.#o.clock.clearTimeout(this.#timer);
    await this.#ticking;
    await Promise.allSettled([...this.#chains.values()]);
    await this.#steps.drain(this.#o.stopWaitMs);
  }

  /**
   * Takes on open alarms in the store that no desk has: at start, and every ADOPT_EVERY_MS after (an
   * alarm committed by a worker whose desk died before taking it on must still reach a person).
   */
  async #adopt(): Promise<void> {
    const now = this.#o.clock.now();
    this.#adoptedAt = now;
    const since = now - this.#o.adoptWithinMs;
    for (const a of await this.#o.store.openAlarms()) {
      if (a.lastRx < since) continue;
      if ((await this.#row(a.deviceId, a.alarmId)) !== undefined) continue;
      await this.#serial(a.deviceId, a.alarmId, () => this.#reconcile(a.deviceId, a.alarmId));
    }
  }

  /** One pass over the database now: alarms no desk has, due steps, pending commands, orphaned notifications, other desks' changes. */
  async poll(): Promise<void> {
    await this.#adopt();
    await this.#ticking;
    this.#o.clock.clearTimeout(this.#timer);
    await this.#tick();
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** Resolves once every notification this desk has under way is sent or failed (tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()]);
    await this.#steps.drain(60_000);
  }

  async list(filter: { open?: boolean; deviceId?: string; from?: number; to?: number; limit?: number } = {}): Promise<DeskAlarm[]> {
    const limit = filter.limit ?? 200;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new Error(`limit ${limit} must be an integer from 1 to 10000`);
    const q = sql.selectList({ ...filter, limit });
    const rows = await this.#o.store.select(q.sql, q.params);
    return Promise.all(rows.map((r) => this.#view(sql.toDeskRow(r))));
  }

  /** One alarm; one in the store that no desk has taken on yet (stored by a worker that died first) is taken on now. */
  async get(deviceId: string, alarmId: string): Promise<DeskAlarm | undefined> {
    const row = (await this.#row(deviceId, alarmId)) ?? (await this.#serial(deviceId, alarmId, () => this.#known(deviceId, alarmId)));
    return row === undefined ? undefined : this.#view(row);
  }

  acknowledge(deviceId: string, alarmId: string, by: string): Promise<DeskActionResult> {
    const bad = this.#checkAction(deviceId, alarmId, by);
    if (bad !== undefined) return Promise.resolve(bad);
    return this.#serial(deviceId, alarmId, async () => {
      const row = await this.#known(deviceId, alarmId);
      if (row === undefined) return unknown(deviceId, alarmId);
      const now = this.#o.clock.now();
      if (OPEN.has(row.state)) {
        const requestId = commandRequestId('ack', deviceId, alarmId);
        const won = await this.#o.store.transact([sql.acknowledge(row, by.trim(), now, requestId), sql.history(deviceId, alarmId, 'acknowledged', now, by.trim())]);
        if (won !== undefined) {
          this.#o.logger.warn({ deviceId, alarmId, by: by.trim() }, 'alarm acknowledged: escalation stopped; sending alarm.ack to the device');
          await this.#sendCommands(deviceId, alarmId);
          return { ok: true as const, alarm: await this.#announce(deviceId, alarmId), already: false };
        }
      }
      const now2 = (await this.#row(deviceId, alarmId))!;
      if (now2.state === 'cancelled') return { ok: false as const, code: 'not-open' as const, reason: `alarm ${alarmId} of ${deviceId} was cancelled by the wearer; there is nothing to acknowledge` };
      return { ok: true as const, alarm: await this.#view(now2), already: true };
    });
  }

  resolve(deviceId: string, alarmId: string, by: string, note: string): Promise<DeskActionResult> {
    const bad = this.#checkAction(deviceId, alarmId, by);
    if (bad !== undefined) return Promise.resolve(bad);
    if (typeof note !== 'string' || note.trim() === '' || note.length > 2000) return Promise.resolve({ ok: false, code: 'invalid', reason: 'a note (1-2000 characters) saying how the alarm ended is required' });
    return this.#serial(deviceId, alarmId, async () => {
      const row = await this.#known(deviceId, alarmId);
      if (row === undefined) return unknown(deviceId, alarmId);
      if (row.state !== 'resolved' && row.state !== 'cancelled') {
        const now = this.#o.clock.now();
        const requestId = commandRequestId('res', deviceId, alarmId);
        const won = await this.#o.store.transact([sql.resolve(row, by.trim(), now, note.trim(), requestId), sql.history(deviceId, alarmId, 'resolved', now, by.trim(), note.trim())]);
        if (won !== undefined) {
          this.#o.logger.warn({ deviceId, alarmId, by: by.trim() }, 'alarm resolved; sending alarm.resolve to the device');
          await this.#sendCommands(deviceId, alarmId);
          return { ok: true as const, alarm: await this.#announce(deviceId, alarmId), already: false };
        }
      }
      const now2 = (await this.#row(deviceId, alarmId))!;
      if (now2.state === 'cancelled') return { ok: false as const, code: 'not-open' as const, reason: `alarm ${alarmId} of ${deviceId} was cancelled by the wearer; there is nothing to resolve` };
      return { ok: true as const, alarm: await this.#view(now2), already: true };
    });
  }

  #checkAction(deviceId: string, alarmId: string, by: string): DeskActionResult | undefined {
    if (typeof by !== 'string' || by.trim() === '' || by.length > 128) return { ok: false, code: 'invalid', reason: 'who is acting is required: a name of 1-128 characters' };
    if (typeof deviceId !== 'string' || typeof alarmId !== 'string' || !isValidId(deviceId) || !isValidId(alarmId)) return unknown(String(deviceId), String(alarmId));
    return undefined;
  }

  /** The desk's row, taking on an alarm the store has but the desk has not seen (stored before the desk ran). */
  async #known(deviceId: string, alarmId: string): Promise<sql.DeskRow | undefined> {
    const row = await this.#row(deviceId, alarmId);
    if (row !== undefined) return row;
    await this.#reconcile(deviceId, alarmId);
    return this.#row(deviceId, alarmId);
  }

  async #row(deviceId: string, alarmId: string): Promise<sql.DeskRow | undefined> {
    const [r] = await this.#o.store.select(sql.SELECT_ALARM, [deviceId, alarmId]);
    return r === undefined ? undefined : sql.toDeskRow(r);
  }

  #view(row: sql.DeskRow): Promise<DeskAlarm> {
    return deskAlarm(this.#o.store, row, (id) => this.#o.commands.get(id));
  }

  #serial<T>(deviceId: string, alarmId: string, fn: () => Promise<T>): Promise<T> {
    const k = `${deviceId}/${alarmId}`;
    const run = (this.#chains.get(k) ?? Promise.resolve()).catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.#chains.set(k, tail);
    void tail.then(() => {
      if (this.#chains.get(k) === tail) this.#chains.delete(k);
    });
    return run;
  }

  #onStored = (deviceId: string, stream: string, msg: { alarmId?: unknown }): void => {
    if (stream !== 'alarm' || typeof msg.alarmId !== 'string') return;
    if (this.#o.logArrivals) logArrivingAlarm(this.#o.logger, deviceId, msg);
    const alarmId = msg.alarmId;
    void this.#serial(deviceId, alarmId, () => this.#reconcile(deviceId, alarmId)).catch((err: Error) =>
      this.#o.logger.error({ deviceId, alarmId, err: err.message }, 'alarm desk could not take on an alarm; the device re-sends it and the desk tries again'));
  };

  #onSettled = (c: { requestId: string }): void => {
    void this.#o.store.select(sql.SELECT_BY_COMMAND, [c.requestId, c.requestId]).then(
      (rows) => {
        for (const r of rows) this.#changed(String(r.device_id), String(r.alarm_id));
      },
      () => undefined,
    );
  };

  #onReload = (): void => {
    // A device that had no escalation may have one now; delays may have changed.
    void this.poll().catch(() => undefined);
  };

  /**
   * Brings the desk's row in line with what the device reported (the store's
   * alarm row and history): creates it for a new alarm, records the device's
   * own acknowledgement, follows a cancel or a resolution, and runs the first
   * step at once when it is due.
   */
  async #reconcile(deviceId: string, alarmId: string): Promise<void> {
    const view = await this.#o.store.alarm(deviceId, alarmId);
    if (view === undefined) return;
    const now = this.#o.clock.now();
    let row = await this.#row(deviceId, alarmId);
    let changed = false;
    if (row === undefined) {
      const created = await this.#o.store.transact([sql.insertAlarm(deviceId, alarmId, now, view.state === 'raised', now), sql.history(deviceId, alarmId, 'raised', now)]);
      changed = (created?.[0].changes ?? 0) > 0;
      row = (await this.#row(deviceId, alarmId))!;
    }
    const stmts = this.#deviceFacts(row, view, now);
    if (stmts.length > 0) {
      for (const s of stmts) if ((await this.#o.store.transact(s))?.some((o) => o.changes > 0)) changed = true;
      row = (await this.#row(deviceId, alarmId))!;
    }
    if (changed) this.#changed(deviceId, alarmId);
    if (OPEN.has(row.state) && row.nextStepAt !== undefined && row.nextStepAt <= now) await this.#steps.runDue(row);
  }

  /** What the device's reports change in the desk's row (each a transaction of its own). */
  #deviceFacts(row: sql.DeskRow, view: AlarmDetail, now: number): SqlStatement[][] {
    const out: SqlStatement[][] = [];
    const acked = view.history.find((h) => h.state === 'acknowledged');
    if (acked !== undefined && row.deviceAcknowledgedAt === undefined) out.push([sql.deviceAcknowledged(row, acked.rx, now)]);
    const by = 'device';
    if (view.state === 'cancelled' && row.state !== 'cancelled' && row.state !== 'resolved') {
      out.push([sql.cancel(row, now), sql.history(row.deviceId, row.alarmId, 'cancelled', now, by, 'cancelled by the wearer (double press)')]);
      this.#o.logger.warn({ deviceId: row.deviceId, alarmId: row.alarmId }, 'alarm cancelled by the wearer: escalation stopped');
    } else if (view.state === 'resolved' && row.state !== 'resolved' && row.state !== 'cancelled') {
      out.push([sql.resolve(row, by, now, 'resolved on the device', undefined), sql.history(row.deviceId, row.alarmId, 'resolved', now, by, 'resolved on the device')]);
    } else if (view.state === 'acknowledged' && OPEN.has(row.state)) {
      // Acknowledged with an alarm.ack someone sent past the desk (nrec command, the API's command endpoint).
      out.push([sql.acknowledge(row, by, now, undefined), sql.history(row.deviceId, row.alarmId, 'acknowledged', now, by, 'the device reported it acknowledged')]);
      this.#o.logger.warn({ deviceId: row.deviceId, alarmId: row.alarmId }, 'alarm acknowledged on the device: escalation stopped');
    }
    return out;
  }

  /** Sends the alarm.ack / alarm.resolve the row still owes the device (idempotent: derived request ids). */
  async #sendCommands(deviceId: string, alarmId: string): Promise<void> {
    const row = await this.#row(deviceId, alarmId);
    if (row === undefined) return;
    const now = this.#o.clock.now();
    for (const [which, pending, requestId, name, by] of [
      ['ack', row.ackPending, row.ackRequestId, 'alarm.ack', row.acknowledgedBy],
      ['resolve', row.resolvePending, row.resolveRequestId, 'alarm.resolve', row.resolvedBy],
    ] as const) {
      if (!pending || requestId === undefined) continue;
      try {
        await this.#o.commands.send(deviceId, name, { alarmId }, { by, ttlMs: this.#o.commandTtlMs, requestId });
        await this.#o.store.transact([sql.commandSent(row, which, now)]);
      } catch (err) {
        this.#o.logger.error({ deviceId, alarmId, command: name, err: (err as Error).message }, 'could not send the command to the device yet; trying again');
      }
    }
  }

  /**
   * Re-reads an alarm and emits `change` when what it shows changed: its row's version, and what lives
   * beside the row (the device's answer to alarm.ack, the outcome of notification attempts) — a command
   * settling after the row last changed must still reach the console.
   */
  #changed(deviceId: string, alarmId: string): void {
    void this.#announce(deviceId, alarmId).catch((err: Error) => this.#o.logger.debug({ deviceId, alarmId, err: err.message }, 'could not read a changed alarm'));
  }

  async #announce(deviceId: string, alarmId: string): Promise<DeskAlarm> {
    const row = (await this.#row(deviceId, alarmId))!;
    const alarm = await this.#view(row);
    const k = `${deviceId}/${alarmId}`;
    const seen = `${row.version}|${JSON.stringify([alarm.deviceState, alarm.ackCommand?.status, alarm.attempts.map((t) => t.result)])}`;
    if (this.#announced.get(k) !== seen) {
      this.#announced.set(k, seen);
      this.emit('change', alarm);
    }
    return alarm;
  }

  #tick(): Promise<void> {
    this.#ticking ??= this.#work().then(
      () => {
        if (this.#tickError !== undefined) this.#o.logger.info('alarm desk: the store works again');
        this.#tickError = undefined;
      },
      (err: Error) => {
        if (err.message !== this.#tickError) this.#o.logger.error({ err: err.message }, 'ALARM DESK cannot read or update the store; escalations wait until it works again');
        this.#tickError = err.message;
      },
    ).then(() => this.#arm()).finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  /** Sleeps until the next step is due, at most pollMs. */
  async #arm(): Promise<void> {
    if (!this.#running) return;
    let wait = this.#o.pollMs;
    try {
      const [r] = await this.#o.store.select(sql.SELECT_NEXT_DUE);
      if (r?.at !== null && r?.at !== undefined) wait = Math.max(0, Math.min(wait, Number(r.at) - this.#o.clock.now()));
    } catch {
      // the next tick reports it
    }
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = this.#o.clock.setTimeout(() => void this.#tick(), wait);
  }

  async #work(): Promise<void> {
    const store = this.#o.store;
    const now = this.#o.clock.now();
    if (now - this.#adoptedAt >= ADOPT_EVERY_MS) await this.#adopt();
    for (const r of await store.select(sql.SELECT_DUE, [now])) {
      const row = sql.toDeskRow(r);
      await this.#serial(row.deviceId, row.alarmId, async () => {
        const fresh = await this.#row(row.deviceId, row.alarmId);
        if (fresh !== undefined && OPEN.has(fresh.state) && fresh.nextStepAt !== undefined && fresh.nextStepAt <= this.#o.clock.now()) await this.#steps.runDue(fresh);
      });
    }
    for (const r of await store.select(sql.SELECT_COMMANDS_DUE)) {
      const row = sql.toDeskRow(r);
      await this.#serial(row.deviceId, row.alarmId, () => this.#sendCommands(row.deviceId, row.alarmId));
    }
    const orphans = (await store.select(sql.SELECT_ORPHANS, [now])).map(sql.toAttempt);
    if (orphans.length > 0) await this.#steps.recover(orphans, (d, a) => this.#row(d, a));
    // Changes made by other desks on this database (their notifications, an acknowledgement through another worker's API).
    const since = this.#lastSeen - 10_000;
    this.#lastSeen = now;
    for (const r of await store.select(sql.SELECT_CHANGED, [since])) {
      const k = `${String(r.device_id)}/${String(r.alarm_id)}`;
      if (Number((this.#announced.get(k) ?? '0').split('|')[0]) < Number(r.version)) this.#changed(String(r.device_id), String(r.alarm_id));
    }
  }
}

function unknown(deviceId: string, alarmId: string): DeskActionResult {
  return { ok: false, code: 'unknown-alarm', reason: `no alarm "${alarmId}" of device "${deviceId}" is stored` };
}
