import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { isValidId } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import { wallScheduler, type Scheduler, type TimerHandle } from '../../lib/scheduler.js';
import type { CommandSenderApi, SentCommand } from '../desk/types.js';
import type { IngestEvents } from '../ingest/ingest.js';
import type { PlatformStore } from '../store/types.js';
import { answer, claimPublish, dueNow, expire, insertCommand, SELECT_ANSWERED, SELECT_BY_DEVICE, SELECT_DUE, SELECT_ONE, toCommandRow, toSentCommand, type CommandRow } from './command-rows.js';
import { republishDelay } from './republish.js';

/** What the sender needs of the ingest (an Ingest): publishing, and the results and presence it stores. */
export interface CommandIngest {
  sendCommand(deviceId: string, name: string, args: Record<string, unknown>, ttlMs: number, id?: string): Promise<string>;
  on<E extends keyof IngestEvents>(event: E, listener: (...args: IngestEvents[E]) => void): unknown;
  off<E extends keyof IngestEvents>(event: E, listener: (...args: IngestEvents[E]) => void): unknown;
}

export interface CommandSenderOptions {
  store: PlatformStore;
  ingest: CommandIngest;
  logger: Logger;
  /** Epoch-ms clock and timers (default: the system's). */
  clock?: Scheduler;
  /** How often pending commands are looked at: results another worker stored, re-publishing, expiry (default 1000 ms). */
  pollMs?: number;
  /** First re-publish of an unanswered command after this long, doubling up to `republishMaxMs` (defaults 5 s and 5 min). */
  republishMinMs?: number;
  republishMaxMs?: number;
  /** Lifetime of a command sent without `ttlMs` (default 60 s, as `nrec command`). */
  defaultTtlMs?: number;
}

export interface CommandSenderEvents {
  /** A command got its answer from the device, or expired without one. */
  settled: [SentCommand];
}

const NAME = /^[a-z][a-z0-9.]{0,63}$/;
const MAX_TTL_MS = 7 * 24 * 3600_000;

interface CommandResultBody {
  requestId?: unknown;
  status?: unknown;
  reason?: unknown;
  result?: unknown;
}

/**
 * Sends commands to devices so that they arrive: each is recorded in the store
 * before it is published (QoS 1, on the device's persistent session), then
 * published again with the same request id until the device's result is stored
 * or the command expires. The device answers a repeat from its stored result and
 * never runs a command twice, so repeats are safe. Results are matched as the
 * ingest stores them, and from the store for those another worker stored or that
 * arrived while this process was down; pending commands are resumed from the
 * store at start. Several workers may share one database: a re-publish is claimed
 * with a compare-and-set on the row's version, so one of them does it.
 */
export class CommandSender extends EventEmitter<CommandSenderEvents> implements CommandSenderApi {
  readonly #o: Required<Omit<CommandSenderOptions, 'clock'>> & { clock: Scheduler };
  /** Publishes not yet acknowledged by the broker (the connection re-sends those itself after a reconnect). */
  readonly #inFlight = new Set<string>();
  readonly #waiters = new Map<string, Set<(c: SentCommand) => void>>();
  #timer: TimerHandle | undefined;
  #ticking: Promise<void> | undefined;
  #running = false;
  #lastTickError: string | undefined;

  constructor(o: CommandSenderOptions) {
    super();
    this.#o = { pollMs: 1000, republishMinMs: 5000, republishMaxMs: 300_000, defaultTtlMs: 60_000, ...o, clock: o.clock ?? wallScheduler };
  }

  /** Listens to the ingest and resumes what is pending in the store. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#o.ingest.on('stored', this.#onStored);
    this.#o.ingest.on('presence', this.#onPresence);
    await this.#tick();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#o.ingest.off('stored', this.#onStored);
    this.#o.ingest.off('presence', this.#onPresence);
    this.#o.clock.clearTimeout(this.#timer);
    await this.#ticking;
  }

  /** Runs one pass over the pending commands now (after the current one, if any). */
  async poll(): Promise<void> {
    await this.#ticking;
    this.#o.clock.clearTimeout(this.#timer);
    await this.#tick();
  }

  async send(deviceId: string, name: string, args: Record<string, unknown> = {}, opts: { by?: string; ttlMs?: number; requestId?: string } = {}): Promise<SentCommand> {
    if (!isValidId(deviceId)) throw new Error(`device id ${JSON.stringify(deviceId)} is not valid: 1-64 of [A-Za-z0-9_-]`);
    if (!NAME.test(name)) throw new Error(`command name ${JSON.stringify(name)} is not valid: lower case letters, digits and dots, starting with a letter (alarm.ack)`);
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new Error('command args must be a JSON object');
    const ttlMs = opts.ttlMs ?? this.#o.defaultTtlMs;
    if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_TTL_MS) throw new Error(`ttlMs ${ttlMs} must be an integer from 1000 to ${MAX_TTL_MS} (7 days)`);
    const requestId = opts.requestId ?? `p-${randomBytes(12).toString('base64url')}`;
    if (!isValidId(requestId)) throw new Error(`request id ${JSON.stringify(requestId)} is not valid: 1-64 of [A-Za-z0-9_-]`);
    const now = this.#o.clock.now();
    const out = await this.#o.store.transact([insertCommand({ requestId, deviceId, name, args, by: opts.by, sentAt: now, expiresAt: now + ttlMs })]);
    const row = await this.#row(requestId);
    if (row === undefined) throw new Error(`command ${requestId} vanished from the store right after it was recorded`);
    if (out?.[0].changes !== 1) {
      // The same request again (a retried call, another worker): the one recorded, never a second command.
      if (row.deviceId !== deviceId || row.name !== name) throw new Error(`request id ${requestId} is already used for ${row.name} to ${row.deviceId}`);
      return toSentCommand(row);
    }
    this.#o.logger.info({ deviceId, command: name, requestId, by: opts.by }, 'command recorded; publishing');
    await this.#publish(row, now);
    return toSentCommand((await this.#row(requestId)) ?? row);
  }

  async get(requestId: string): Promise<SentCommand | undefined> {
    const r = await this.#row(requestId);
    return r === undefined ? undefined : toSentCommand(r);
  }

  async list(deviceId: string, opts: { limit?: number } = {}): Promise<SentCommand[]> {
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new Error(`limit ${limit} must be an integer from 1 to 10000`);
    return (await this.#o.store.select(SELECT_BY_DEVICE, [deviceId, limit])).map((r) => toSentCommand(toCommandRow(r)));
  }

  async waitForResult(requestId: string, timeoutMs: number): Promise<SentCommand | undefined> {
    const c = await this.get(requestId);
    if (c === undefined) return undefined;
    if (c.status !== 'pending') return c;
    return new Promise((resolve) => {
      const set = this.#waiters.get(requestId) ?? new Set();
      this.#waiters.set(requestId, set);
      const done = (x: SentCommand | undefined) => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.#waiters.delete(requestId);
        resolve(x);
      };
      // A last look at the store at the deadline: another worker may have settled it.
      const timer = setTimeout(() => void this.get(requestId).then((x) => done(x?.status === 'pending' ? undefined : x), () => done(undefined)), Math.max(0, timeoutMs));
      set.add(done);
    });
  }

  #row = async (requestId: string): Promise<CommandRow | undefined> => {
    const [r] = await this.#o.store.select(SELECT_ONE, [requestId]);
    return r === undefined ? undefined : toCommandRow(r);
  };

  /** Claims one publish (compare-and-set on the version, recorded before it goes out), then publishes. */
  async #publish(row: CommandRow, now: number): Promise<void> {
    if (this.#inFlight.has(row.requestId)) return;
    const next = now + republishDelay(row.publishes + 1, this.#o.republishMinMs, this.#o.republishMaxMs);
    const claimed = await this.#o.store.transact([claimPublish(row.requestId, row.version, now, next)]);
    if (claimed === undefined) return; // another worker publishes it, or it was answered meanwhile
    this.#inFlight.add(row.requestId);
    const ttlMs = Math.max(1, row.expiresAt - this.#o.clock.now());
    this.#o.ingest.sendCommand(row.deviceId, row.name, row.args, ttlMs, row.requestId).then(
      () => this.#inFlight.delete(row.requestId),
      (err: Error) => {
        this.#inFlight.delete(row.requestId);
        this.#o.logger.warn({ deviceId: row.deviceId, command: row.name, requestId: row.requestId, err: err.message }, 'command not published; it is tried again');
      },
    );
  }

  #onStored = (deviceId: string, stream: string, msg: CommandResultBody): void => {
    if (stream !== 'result' || typeof msg.requestId !== 'string') return;
    const status = msg.status as SentCommand['status'];
    void this.#settle(msg.requestId, deviceId, { status, reason: typeof msg.reason === 'string' ? msg.reason : undefined, result: msg.result, at: this.#o.clock.now() })
      .catch((err: Error) => this.#o.logger.warn({ deviceId, requestId: msg.requestId, err: err.message }, 'could not record a command result; it is matched again from the store'));
  };

  #onPresence = (deviceId: string, state: string): void => {
    if (state !== 'online' || !this.#running) return;
    // Back online: whatever it has not answered goes again now, not at the next back-off step.
    void this.#o.store.transact([dueNow(deviceId, this.#o.clock.now())]).then(
      (r) => {
        if ((r?.[0].changes ?? 0) > 0) this.#kick();
      },
      (err: Error) => this.#o.logger.debug({ deviceId, err: err.message }, 'could not reschedule pending commands'),
    );
  };

  async #settle(requestId: string, deviceId: string, a: { status: SentCommand['status']; reason?: string; result?: unknown; at: number }): Promise<void> {
    const r = await this.#o.store.transact([answer(requestId, deviceId, a)]);
    if ((r?.[0].changes ?? 0) === 0) return; // not ours, or already answered
    const c = await this.get(requestId);
    if (c === undefined) return;
    this.#o.logger.info({ deviceId, command: c.name, requestId, status: c.status, reason: c.reason }, 'command answered');
    this.#announce(c);
  }

  #announce(c: SentCommand): void {
    this.emit('settled', c);
    for (const w of [...(this.#waiters.get(c.requestId) ?? [])]) w(c);
  }

  #kick(): void {
    if (!this.#running || this.#ticking !== undefined) return;
    this.#o.clock.clearTimeout(this.#timer);
    void this.#tick();
  }

  #tick(): Promise<void> {
    this.#ticking ??= this.#work().then(
      () => {
        if (this.#lastTickError !== undefined) this.#o.logger.info('command sender: store works again');
        this.#lastTickError = undefined;
      },
      (err: Error) => {
        // Reported on change, not every second.
        if (err.message !== this.#lastTickError) this.#o.logger.error({ err: err.message }, 'command sender cannot read or update pending commands; retrying');
        this.#lastTickError = err.message;
      },
    ).finally(() => {
      this.#ticking = undefined;
      if (this.#running) this.#timer = this.#o.clock.setTimeout(() => void this.#tick(), this.#o.pollMs);
    });
    return this.#ticking;
  }

  async #work(): Promise<void> {
    const store = this.#o.store;
    // Answers stored by another worker, or while we were down.
    for (const r of await store.select(SELECT_ANSWERED)) {
      const requestId = String(r.request_id);
      for (const res of await store.results(requestId)) await this.#settle(requestId, res.deviceId, { status: res.status, reason: res.reason, result: res.result, at: res.rx });
    }
    const now = this.#o.clock.now();
    const expired = (await store.transact([expire(now)]))?.[0].rows ?? [];
    for (const r of expired) {
      const c = await this.get(String(r.request_id));
      if (c === undefined) continue;
      this.#o.logger.warn({ deviceId: c.deviceId, command: c.name, requestId: c.requestId, publishes: (await this.#row(c.requestId))?.publishes }, 'command expired without an answer from the device');
      this.#announce(c);
    }
    for (const r of await store.select(SELECT_DUE, [now])) await this.#publish(toCommandRow(r), now);
    // Waiters on commands another worker settled.
    for (const requestId of this.#waiters.keys()) {
      const c = await this.get(requestId);
      if (c !== undefined && c.status !== 'pending') for (const w of [...(this.#waiters.get(requestId) ?? [])]) w(c);
    }
  }
}
