import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';
import { validatorForInbound, type CommandRequest, type CommandResult } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';

/**
 * What a handler returns; thrown errors become status 'error' with the message as reason.
 * `deferred`: the answer comes later, through `complete` (a change applied commit-confirmed
 * answers once it is committed or rolled back, possibly after a restart).
 */
export type HandlerResult = { status?: 'ok' | 'error' | 'refused'; reason?: string; result?: unknown; restartRequired?: boolean; deferred?: boolean };
export type CommandHandler = (args: Record<string, unknown>, request: CommandRequest) => Promise<HandlerResult> | HandlerResult;

export interface CommandOptions {
  /**
   * Safe to run again after a restart that interrupted it (it sets a state, so running it twice
   * ends where running it once does: ping, locate, geofence.set, alarm.ack). Default false: an
   * interrupted command is answered `error` "interrupted by restart" instead of being run again.
   */
  replaySafe?: boolean;
}

export type ResultBody = Omit<CommandResult, 'v' | 'id' | 'deviceId' | 'bootId' | 'seq' | 'ts' | 'clock'>;

const DAY_MS = 24 * 3600 * 1000;
/** The longest a request lives, whatever its expiresAt says: past it, its stored result may be gone, and a redelivery would run it again. */
export const COMMAND_MAX_LIFETIME_MS = 7 * DAY_MS;
/** How long results are kept: a day longer than any request lives, for clock skew between the platform and the device. */
export const RESULT_RETENTION_MS = COMMAND_MAX_LIFETIME_MS + DAY_MS;
export const INTERRUPTED_REASON = 'interrupted by restart';

/**
 * Remote commands: schema-validated, refused when expired or addressed to
 * another device, idempotent (a repeated request id is answered from the
 * stored result and never executed twice), and always answered. Modules add
 * their commands with `register` (alarm.ack, record.start, ...).
 *
 * Durability (SQLite, synchronous FULL): a request is recorded as received
 * (`receive`, called before the broker gets its PUBACK) and forgotten only once
 * its result is in the outbox (`answered`); results are kept so idempotency
 * survives restarts. After a crash, `unanswered` lists what was received and
 * never answered: a stored result is sent again, a replay-safe command that
 * has not expired is run, any other is answered `error` "interrupted by
 * restart" (it may have run in part; the platform decides whether to send it again).
 */
export class CommandRegistry {
  readonly #handlers = new Map<string, { handler: CommandHandler; replaySafe: boolean }>();
  readonly #db: Database.Database;
  readonly #st;
  readonly #deviceId: string;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #running = new Set<string>();

  constructor(dbPath: string, deviceId: string, logger: Logger, now: () => number = Date.now) {
    this.#db = openSqlite(dbPath, { what: 'command results' });
    this.#db.exec(`CREATE TABLE IF NOT EXISTS results (request_id TEXT PRIMARY KEY, body TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS received (request_id TEXT PRIMARY KEY, payload BLOB NOT NULL, at INTEGER NOT NULL, deferred INTEGER NOT NULL DEFAULT 0);`);
    this.#st = {
      get: this.#db.prepare<[string], { body: string }>('SELECT body FROM results WHERE request_id = ?'),
      put: this.#db.prepare<[string, string, number]>('INSERT OR REPLACE INTO results (request_id, body, at) VALUES (?, ?, ?)'),
      prune: this.#db.prepare<[number]>('DELETE FROM results WHERE at < ?'),
      receive: this.#db.prepare<[string, Buffer, number]>('INSERT OR IGNORE INTO received (request_id, payload, at) VALUES (?, ?, ?)'),
      answered: this.#db.prepare<[string]>('DELETE FROM received WHERE request_id = ?'),
      defer: this.#db.prepare<[string]>('UPDATE received SET deferred = 1 WHERE request_id = ?'),
      isDeferred: this.#db.prepare<[string], { deferred: number }>('SELECT deferred FROM received WHERE request_id = ?'),
      unanswered: this.#db.prepare<[], { request_id: string; payload: Buffer; deferred: number }>('SELECT request_id, payload, deferred FROM received ORDER BY at, rowid'),
    };
    this.#deviceId = deviceId;
    this.#log = logger;
    this.#now = now;
    this.#st.prune.run(now() - RESULT_RETENTION_MS);
  }

  /** Adds a command; names are lower-case with dots (alarm.ack). */
  register(name: string, handler: CommandHandler, opts: CommandOptions = {}): void {
    if (this.#handlers.has(name)) throw new Error(`command ${name} is already registered`);
    this.#handlers.set(name, { handler, replaySafe: opts.replaySafe === true });
  }

  get names(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  /**
   * Records a raw request durably as received, before the broker is acknowledged; returns its
   * request id, or undefined when it has none to answer to. Throws when the disk refuses it.
   */
  receive(payload: Buffer): string | undefined {
    const requestId = salvageId(payload);
    if (requestId !== undefined) this.#st.receive.run(requestId, payload, this.#now());
    return requestId;
  }

  /** The result of `requestId` is durable in the outbox: it no longer needs answering after a restart. */
  answered(requestId: string): void {
    this.#st.answered.run(requestId);
  }

  /** Requests received and never answered (a crash or power cut came between), oldest first; `deferred` ones wait for `complete`. */
  unanswered(): Array<{ requestId: string; payload: Buffer; deferred: boolean }> {
    return this.#st.unanswered.all().map((r) => ({ requestId: r.request_id, payload: r.payload, deferred: r.deferred === 1 }));
  }

  /** Marks a received request as answered later (by `complete`); also after a restart that found it deferred. */
  defer(requestId: string): void {
    this.#st.defer.run(requestId);
  }

  /** Stores the late answer of a deferred request and returns the body to publish (then call `answered`). */
  complete(requestId: string, name: string, r: HandlerResult): ResultBody {
    const body = resultBody({ requestId, name }, r);
    this.#st.put.run(requestId, JSON.stringify(body), this.#now());
    this.#log.info({ command: name, requestId, status: body.status }, 'command answered');
    return body;
  }

  /**
   * Handles one raw request payload; resolves with the result body to publish, or undefined
   * when nothing is to be published now (no id to answer to, a copy already running, deferred).
   * `afterRestart`: the request was received before a restart and never answered.
   */
  async handle(payload: Buffer, opts: { afterRestart?: boolean } = {}): Promise<ResultBody | undefined> {
    const parsed = validatorForInbound('req').parse(payload);
    if (!parsed.ok) {
      // Answer malformed requests when we can find an id to answer to; otherwise only log.
      const requestId = salvageId(payload);
      this.#log.warn({ errors: parsed.errors }, 'malformed command');
      return requestId === undefined ? undefined : { requestId, name: salvageName(payload), status: 'error', reason: `malformed command: ${parsed.errors.join('; ')}` };
    }
    const req = parsed.value as CommandRequest;
    const stored = this.#st.get.get(req.id);
    if (stored !== undefined) return JSON.parse(stored.body) as ResultBody;
    if (this.#running.has(req.id)) return undefined; // the first copy is still running and will answer
    if (this.#st.isDeferred.get(req.id)?.deferred === 1) return undefined; // answered when its outcome is known
    const base = { requestId: req.id, name: req.name };
    // Capped: after the result retention a redelivery would find no stored result and run again.
    const expiresAt = Math.min(req.expiresAt, req.ts + COMMAND_MAX_LIFETIME_MS);
    let body: ResultBody;
    if (req.deviceId !== this.#deviceId) {
      body = { ...base, status: 'refused', reason: `command addressed to device "${req.deviceId}", this is "${this.#deviceId}"` };
    } else if (expiresAt < this.#now()) {
      const capped = expiresAt < req.expiresAt ? ` (a command lives at most ${COMMAND_MAX_LIFETIME_MS / DAY_MS} days from its ts, whatever its expiresAt)` : '';
      body = { ...base, status: 'expired', reason: `expired at ${new Date(expiresAt).toISOString()}${capped}` };
    } else {
      const h = this.#handlers.get(req.name);
      if (h === undefined) {
        body = { ...base, status: 'unknown', reason: `unknown command "${req.name}"; known: ${this.names.join(', ')}` };
      } else if (opts.afterRestart === true && !h.replaySafe) {
        body = { ...base, status: 'error', reason: `${INTERRUPTED_REASON}: the agent restarted after receiving ${req.name} and before answering it; it is not run again (it may have run in part): check the device's state and send it again if needed` };
      } else {
        this.#running.add(req.id);
        let r: HandlerResult;
        try {
          r = await h.handler(req.args ?? {}, req);
        } catch (err) {
          r = { status: 'error', reason: (err as Error).message };
        } finally {
          this.#running.delete(req.id);
        }
        if (r.deferred === true) {
          this.defer(req.id);
          this.#log.info({ command: req.name, requestId: req.id }, 'command answer deferred');
          return undefined;
        }
        body = resultBody(base, r);
      }
    }
    this.#st.put.run(req.id, JSON.stringify(body), this.#now());
    this.#log.info({ command: req.name, requestId: req.id, status: body.status, ...(opts.afterRestart === true ? { afterRestart: true } : {}) }, 'command handled');
    return body;
  }

  close(): void {
    this.#db.close();
  }
}

function resultBody(base: { requestId: string; name: string }, r: HandlerResult): ResultBody {
  return { ...base, status: r.status ?? 'ok', ...(r.reason ? { reason: r.reason } : {}), ...(r.result !== undefined ? { result: r.result } : {}), ...(r.restartRequired ? { restartRequired: true } : {}) };
}

function salvage(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(payload.toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function salvageId(payload: Buffer): string | undefined {
  const id = salvage(payload)?.id;
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
}

function salvageName(payload: Buffer): string {
  const n = salvage(payload)?.name;
  return typeof n === 'string' ? n.slice(0, 64) : '?';
}
