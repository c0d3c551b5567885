import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';
import { validatorForInbound, type CommandRequest, type CommandResult } from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';

/** What a handler returns; thrown errors become status 'error' with the message as reason. */
export type HandlerResult = { status?: 'ok' | 'error' | 'refused'; reason?: string; result?: unknown; restartRequired?: boolean };
export type CommandHandler = (args: Record<string, unknown>, request: CommandRequest) => Promise<HandlerResult> | HandlerResult;

type ResultBody = Omit<CommandResult, 'v' | 'id' | 'deviceId' | 'bootId' | 'seq' | 'ts' | 'clock'>;

/**
 * Remote commands: schema-validated, refused when expired or addressed to
 * another device, idempotent (a repeated request id is answered from the
 * stored result and never executed twice), and always answered. Modules add
 * their commands with `register` (alarm.ack, record.start, ...).
 * Results are kept in a small SQLite table so idempotency survives restarts.
 */
export class CommandRegistry {
  readonly #handlers = new Map<string, CommandHandler>();
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], { body: string }>;
  readonly #put: Database.Statement<[string, string, number]>;
  readonly #prune: Database.Statement<[number]>;
  readonly #deviceId: string;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #running = new Set<string>();

  constructor(dbPath: string, deviceId: string, logger: Logger, now: () => number = Date.now) {
    this.#db = openSqlite(dbPath, { what: 'command results' });
    this.#db.exec('CREATE TABLE IF NOT EXISTS results (request_id TEXT PRIMARY KEY, body TEXT NOT NULL, at INTEGER NOT NULL)');
    this.#get = this.#db.prepare('SELECT body FROM results WHERE request_id = ?');
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO results (request_id, body, at) VALUES (?, ?, ?)');
    this.#prune = this.#db.prepare('DELETE FROM results WHERE at < ?');
    this.#deviceId = deviceId;
    this.#log = logger;
    this.#now = now;
    this.#prune.run(now() - 7 * 24 * 3600 * 1000);
  }

  /** Adds a command; names are lower-case with dots (alarm.ack). */
  register(name: string, handler: CommandHandler): void {
    if (this.#handlers.has(name)) throw new Error(`command ${name} is already registered`);
    this.#handlers.set(name, handler);
  }

  get names(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  /** Handles one raw request payload; resolves with the result body to publish (undefined when nothing can be answered). */
  async handle(payload: Buffer): Promise<ResultBody | undefined> {
    const parsed = validatorForInbound('req').parse(payload);
    if (!parsed.ok) {
      // Answer malformed requests when we can find an id to answer to; otherwise only log.
      const requestId = salvageId(payload);
      this.#log.warn({ errors: parsed.errors }, 'malformed command');
      return requestId === undefined ? undefined : { requestId, name: salvageName(payload), status: 'error', reason: `malformed command: ${parsed.errors.join('; ')}` };
    }
    const req = parsed.value as CommandRequest;
    const stored = this.#get.get(req.id);
    if (stored !== undefined) return JSON.parse(stored.body) as ResultBody;
    if (this.#running.has(req.id)) return undefined; // the first copy is still running and will answer
    const base = { requestId: req.id, name: req.name };
    let body: ResultBody;
    if (req.deviceId !== this.#deviceId) {
      body = { ...base, status: 'refused', reason: `command addressed to device "${req.deviceId}", this is "${this.#deviceId}"` };
    } else if (req.expiresAt < this.#now()) {
      body = { ...base, status: 'expired', reason: `expired at ${new Date(req.expiresAt).toISOString()}` };
    } else {
      const handler = this.#handlers.get(req.name);
      if (handler === undefined) {
        body = { ...base, status: 'unknown', reason: `unknown command "${req.name}"; known: ${this.names.join(', ')}` };
      } else {
        this.#running.add(req.id);
        try {
          const r = await handler(req.args ?? {}, req);
          body = { ...base, status: r.status ?? 'ok', ...(r.reason ? { reason: r.reason } : {}), ...(r.result !== undefined ? { result: r.result } : {}), ...(r.restartRequired ? { restartRequired: true } : {}) };
        } catch (err) {
          body = { ...base, status: 'error', reason: (err as Error).message };
        } finally {
          this.#running.delete(req.id);
        }
      }
    }
    this.#put.run(req.id, JSON.stringify(body), this.#now());
    this.#log.info({ command: req.name, requestId: req.id, status: body.status }, 'command handled');
    return body;
  }

  close(): void {
    this.#db.close();
  }
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
