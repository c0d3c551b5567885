import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';
import { LANES, planEviction, storedOverCapacity, type Lane, type PolicyRow } from './outbox-policy.js';
import { idRuns, prepareStatements, toEntry, type Meta, type OutboxStatements } from './outbox-sql.js';

export { LANES, type Lane };

export interface OutboxInput {
  lane: Lane;
  topic: string;
  payload: Buffer;
  msgId: string;
  retain?: boolean;
}

export interface OutboxEntry extends Required<OutboxInput> {
  rowId: number;
  createdAt: number;
  /** payload + topic bytes, what counts against capacity. */
  bytes: number;
}

export interface OutboxOptions {
  /** Byte budget for payload + topic of everything stored (default 64 MiB). */
  capacityBytes: number;
  /** When thinning locations keep every Nth (default 4). */
  thinKeepEvery?: number;
  now?: () => number;
  /** Memory per lane for rows handed out without reading them back (default 4 MiB; see #tail). */
  tailBytes?: number;
}

/** Payload of the 'evicted' event: something was dropped or refused, so the caller must report it. */
export interface EvictedEvent {
  lane: Lane;
  count: number;
  bytes: number;
  /** capacity: oldest dropped; thinned: locations thinned; refused: the put did not fit; write-failed: the commit failed (disk full, I/O error). */
  reason: 'capacity' | 'thinned' | 'refused' | 'write-failed';
}

export type LaneStats = { count: number; bytes: number; oldestAt: number | undefined; inFlight: number };

interface Pending {
  input: Required<OutboxInput>;
  createdAt: number;
  bytes: number;
  resolve: (e: OutboxEntry) => void;
  reject: (err: Error) => void;
}
type Outcome = { ok: true; entry: OutboxEntry } | { ok: false; error: Error };
type LaneTotals = Record<Lane, { count: number; bytes: number }>;
interface CommitResult { outcomes: Outcome[]; evicted: EvictedEvent[]; dropped: number[]; lanes: LaneTotals; total: number }

const DEFAULT_CAPACITY = 64 * 1024 * 1024;
function emptyLanes<T>(make: () => T): Record<Lane, T> {
  return Object.fromEntries(LANES.map((l) => [l, make()])) as Record<Lane, T>;
}

/** One 'write-failed' event per lane for the puts of a failed commit. */
function summarize(batch: Pending[]): EvictedEvent[] {
  const by = new Map<Lane, EvictedEvent>();
  for (const p of batch) {
    const ev = by.get(p.input.lane) ?? { lane: p.input.lane, count: 0, bytes: 0, reason: 'write-failed' as const };
    ev.count++;
    ev.bytes += p.bytes;
    by.set(p.input.lane, ev);
  }
  return [...by.values()];
}

/** Puts per commit (one fsync each); see #flush. */
const MAX_COMMIT = 2000;
/** Memory for the in-memory tail per lane (see #tail). */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Durable store-and-forward queue in SQLite (WAL). A message is committed
 * before anyone may publish it and deleted only when acknowledged; in-flight
 * marks live in memory, so after a restart every unacknowledged message is
 * queued again (the ingest deduplicates by msgId).
 *
 * Durability: synchronous=FULL for transactions that insert, so a resolved
 * put survives power loss, not just kill -9 (NORMAL in WAL mode only survives
 * a process crash: the last commits may roll back when power fails, and a
 * lost alarm is not acceptable). The fsync cost is paid once per batch, not per
 * message: puts of one event-loop turn share one transaction (group commit),
 * an alarm flushes at once. Deletions (acks) run with synchronous=NORMAL: if
 * one is lost to power failure the message is merely sent again.
 */
export class Outbox extends EventEmitter {
  readonly #db: Database.Database;
  readonly #capacity: number;
  readonly #keepEvery: number;
  readonly #now: () => number;
  readonly #st: OutboxStatements;
  readonly #commit: (batch: Pending[], acked: number[]) => CommitResult;
  /** Count and bytes per lane of stored, unacknowledged rows (cached: no SUM() per put). */
  #lanes = emptyLanes(() => ({ count: 0, bytes: 0 }));
  #total = 0;
  readonly #inFlight = new Map<number, Meta>();
  /** Rows this process has handed out at least once and that are still stored, by message id: what a confirmation can name. */
  readonly #sent = new Map<string, Meta>();
  readonly #sentByRow = new Map<number, string>();
  readonly #inFlightCount = emptyLanes(() => 0);
  /** Every row of a lane with rowId <= frontier is in flight or acknowledged, so take() scans from there. */
  readonly #frontier = emptyLanes(() => 0);
  /** Acknowledged rows whose DELETE waits for the next flush. */
  readonly #acked = new Map<number, Lane>();
  #pending: Pending[] = [];
  /**
   * Rows this process inserted and has not yet handed out, per lane, in row order — used by
   * take() instead of reading them back from SQLite (12–16 µs a row in outbox-throughput).
   * Only while `#tailValid` says the tail holds every queued row of the lane; anything that can
   * put a queued row elsewhere (release, eviction, restart) invalidates it, and take() falls back
   * to the database until a scan reaches the end of the lane.
   */
  readonly #tail = emptyLanes<OutboxEntry[]>(() => []);
  /** Index of the first entry of #tail not yet handed out (entries before it are dropped in bulk, not one splice per take). */
  readonly #tailHead = emptyLanes<number>(() => 0);
  readonly #tailValid = emptyLanes(() => false);
  /**
   * Whether the (valid) tail holds every queued row after it, or only a prefix: past its memory
   * bound new rows are no longer appended, and once the tail is drained take() reads the rest
   * back from SQLite (until a scan reaches the end of the lane, when the tail is complete again).
   * Dropping the whole tail at the bound instead sent a whole burst of 20,000 down the slow path.
   */
  readonly #tailComplete = emptyLanes(() => true);
  readonly #maxTailBytes: number;
  readonly #tailBytes = emptyLanes(() => 0);
  #flushTimer: NodeJS.Immediate | undefined;
  #sync: 'FULL' | 'NORMAL' | undefined;
  #closed = false;

  private constructor(db: Database.Database, opts: Partial<OutboxOptions>) {
    super();
    this.#db = db;
    this.#capacity = opts.capacityBytes ?? DEFAULT_CAPACITY;
    this.#keepEvery = opts.thinKeepEvery ?? 4;
    this.#now = opts.now ?? Date.now;
    this.#maxTailBytes = opts.tailBytes ?? MAX_TAIL_BYTES;
    if (!(this.#capacity > 0)) throw new Error(`outbox capacityBytes must be > 0, got ${this.#capacity}`);
    if (!Number.isInteger(this.#keepEvery) || this.#keepEvery < 2) throw new Error(`outbox thinKeepEvery must be an integer >= 2, got ${this.#keepEvery}`);
    this.#st = prepareStatements(db);
    for (const t of this.#st.totals.all()) {
      if (!(LANES as readonly string[]).includes(t.lane)) throw new Error(`outbox database has rows of unknown lane "${t.lane}"`);
      this.#lanes[t.lane as Lane] = { count: t.n, bytes: t.b };
      this.#total += t.b;
    }
    for (const l of LANES) this.#tailValid[l] = this.#lanes[l].count === 0;
    this.#commit = db.transaction((batch: Pending[], acked: number[]) => this.#apply(batch, acked));
  }

  /** Opens (creating if needed) the outbox database at `path`. */
  static open(path: string, opts: Partial<OutboxOptions> = {}): Outbox {
    const db = openSqlite(path, { what: 'outbox database' });
    try {
      return new Outbox(db, opts);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Stores a message; resolves once it is durable (group commit), rejects if capacity refuses it. */
  put(msg: OutboxInput): Promise<OutboxEntry> {
    if (this.#closed) return Promise.reject(new Error('outbox is closed'));
    if (!(LANES as readonly string[]).includes(msg.lane)) return Promise.reject(new Error(`outbox put: unknown lane "${String(msg.lane)}"`));
    if (!Buffer.isBuffer(msg.payload)) return Promise.reject(new Error(`outbox put ${msg.msgId}: payload must be a Buffer`));
    if (typeof msg.msgId !== 'string' || msg.msgId === '') return Promise.reject(new Error('outbox put: msgId must be a non-empty string'));
    if (typeof msg.topic !== 'string' || msg.topic === '') return Promise.reject(new Error(`outbox put ${msg.msgId}: topic must be a non-empty string`));
    const input: Required<OutboxInput> = { lane: msg.lane, topic: msg.topic, payload: msg.payload, msgId: msg.msgId, retain: msg.retain ?? false };
    return new Promise((resolve, reject) => {
      const p = { input, createdAt: this.#now(), bytes: msg.payload.length + Buffer.byteLength(msg.topic), resolve, reject };
      if (msg.lane === 'alarm') {
        // Ahead of other pending puts (after earlier alarms), so it is in the very next commit.
        let i = 0;
        while (i < this.#pending.length && this.#pending[i].input.lane === 'alarm') i++;
        this.#pending.splice(i, 0, p);
        this.#flush();
      } else {
        this.#pending.push(p);
        this.#scheduleFlush();
      }
    });
  }

  /** Oldest queued entries of a lane that are not in flight, marked in flight. `maxBytes` is soft: the first entry is always returned so an oversized message cannot stall its lane. */
  take(lane: Lane, max: number, maxBytes = Number.POSITIVE_INFINITY): OutboxEntry[] {
    this.#checkOpen();
    const out: OutboxEntry[] = [];
    if (max <= 0 || !this.has(lane)) return out;
    let bytes = 0;
    if (this.#tailValid[lane]) {
      const tail = this.#tail[lane];
      const head = this.#tailHead[lane];
      let i = head;
      for (; i < tail.length; i++) {
        const e = tail[i];
        if (this.#acked.has(e.rowId) || this.#inFlight.has(e.rowId)) continue;
        if (out.length > 0 && bytes + e.bytes > maxBytes) break;
        if (out.length >= max) break;
        out.push(e);
        bytes += e.bytes;
      }
      for (let k = head; k < i; k++) this.#tailBytes[lane] -= tail[k].bytes;
      if (i > head) this.#frontier[lane] = Math.max(this.#frontier[lane], tail[i - 1].rowId);
      this.#tailHead[lane] = i;
      // Drop what was handed out once it is most of the array: amortised O(1) per entry (a splice per take was O(n)).
      if (i >= 1024 && i * 2 >= tail.length) {
        this.#tail[lane] = tail.slice(i);
        this.#tailHead[lane] = 0;
      }
    }
    const tailDrained = this.#tailHead[lane] >= this.#tail[lane].length;
    const fromDb = !this.#tailValid[lane] || (tailDrained && !this.#tailComplete[lane]);
    if (fromDb && out.length < max && !(out.length > 0 && bytes >= maxBytes)) {
      let last = this.#frontier[lane];
      let exhausted = true;
      for (const r of this.#st.scan.iterate(lane, last)) {
        if (this.#inFlight.has(r.row_id) || this.#acked.has(r.row_id)) {
          last = r.row_id;
          continue;
        }
        if ((out.length > 0 && bytes + r.bytes > maxBytes) || out.length >= max) {
          exhausted = false;
          break;
        }
        out.push(toEntry(r));
        bytes += r.bytes;
        last = r.row_id;
      }
      this.#frontier[lane] = last;
      // Every committed queued row of the lane is now handed out: rows committed from now on (puts
      // still pending included) can be served from memory.
      if (exhausted) this.#resetTail(lane, true);
    }
    for (const e of out) {
      const m = { row_id: e.rowId, lane, bytes: e.bytes };
      this.#inFlight.set(e.rowId, m);
      this.#sent.set(e.msgId, m);
      this.#sentByRow.set(e.rowId, e.msgId);
    }
    this.#inFlightCount[lane] += out.length;
    return out;
  }

  #invalidateTail(lane: Lane): void {
    this.#resetTail(lane, false);
  }

  /** Empties the lane's tail; a valid one holds every row committed from now on. */
  #resetTail(lane: Lane, valid: boolean): void {
    this.#tailValid[lane] = valid;
    this.#tailComplete[lane] = true;
    this.#tail[lane] = [];
    this.#tailHead[lane] = 0;
    this.#tailBytes[lane] = 0;
  }

  /** Returns in-flight entries to the queue (e.g. the connection dropped before PUBACK). */
  release(rowIds: number[]): void {
    for (const id of rowIds) {
      const m = this.#inFlight.get(id);
      if (m === undefined) continue;
      this.#inFlight.delete(id);
      this.#inFlightCount[m.lane]--;
      this.#frontier[m.lane] = Math.min(this.#frontier[m.lane], id - 1);
      this.#invalidateTail(m.lane);
    }
  }

  /** Returns every in-flight entry to the queue. */
  releaseAll(): void {
    this.#inFlight.clear();
    for (const l of LANES) {
      this.#inFlightCount[l] = 0;
      this.#frontier[l] = 0;
      this.#invalidateTail(l);
    }
  }

  /** Deletes acknowledged entries; the DELETEs of one event-loop turn share one transaction. Unknown ids are ignored. */
  ack(rowIds: number[]): void {
    this.#checkOpen();
    for (const id of rowIds) {
      if (this.#acked.has(id)) continue;
      const m = this.#inFlight.get(id) ?? this.#st.meta.get(id);
      if (m !== undefined) this.#markAcked(m);
    }
    this.#scheduleFlush();
  }

  /**
   * Deletes entries the platform confirmed it has stored, by message id; returns those found.
   * Only rows this process has handed out can be confirmed (a confirmation names what was sent);
   * one for a row it never sent (sent by an earlier boot) is ignored, and that row is simply
   * sent again and confirmed as a duplicate.
   */
  confirm(msgIds: readonly string[]): Array<{ rowId: number; lane: Lane; msgId: string }> {
    this.#checkOpen();
    const out: Array<{ rowId: number; lane: Lane; msgId: string }> = [];
    for (const msgId of msgIds) {
      const m = this.#sent.get(msgId);
      if (m === undefined || this.#acked.has(m.row_id)) continue;
      this.#markAcked(m);
      out.push({ rowId: m.row_id, lane: m.lane, msgId });
    }
    if (out.length > 0) this.#scheduleFlush();
    return out;
  }

  /** True while a row is handed out (taken and neither released nor deleted). */
  isInFlight(rowId: number): boolean {
    return this.#inFlight.has(rowId);
  }

  /** True when the lane has a queued entry that is not in flight. */
  has(lane: Lane): boolean {
    return this.#lanes[lane].count - this.#inFlightCount[lane] > 0;
  }

  /** Per-lane counts, bytes, age of the oldest entry and in-flight count (stored, unacknowledged entries). */
  stats(): Record<Lane, LaneStats> {
    this.#checkOpen();
    const out = emptyLanes<LaneStats>(() => ({ count: 0, bytes: 0, oldestAt: undefined, inFlight: 0 }));
    for (const l of LANES) {
      out[l] = { count: this.#lanes[l].count, bytes: this.#lanes[l].bytes, oldestAt: this.#oldestAt(l), inFlight: this.#inFlightCount[l] };
    }
    return out;
  }

  /** Bytes (payload + topic) of everything stored and not acknowledged. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Commits pending puts and acks, then closes the database. Idempotent. */
  close(): void {
    if (this.#closed) return;
    while (this.#pending.length > 0) this.#flush();
    this.#flush();
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#closed = true;
    this.#db.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('outbox is closed');
  }

  #forgetSent(rowId: number): void {
    const msgId = this.#sentByRow.get(rowId);
    if (msgId === undefined) return;
    this.#sentByRow.delete(rowId);
    this.#sent.delete(msgId);
  }

  #markAcked(m: Meta): void {
    this.#forgetSent(m.row_id);
    if (this.#inFlight.delete(m.row_id)) this.#inFlightCount[m.lane]--;
    else this.#invalidateTail(m.lane); // a queued row acknowledged (ingest ack after a restart): the tail may hold it
    this.#acked.set(m.row_id, m.lane);
    this.#lanes[m.lane].count--;
    this.#lanes[m.lane].bytes -= m.bytes;
    this.#total -= m.bytes;
  }

  #oldestAt(lane: Lane): number | undefined {
    for (const r of this.#st.laneRows.iterate(lane)) {
      if (this.#acked.has(r.row_id)) continue;
      return r.created_at;
    }
    return undefined;
  }

  #scheduleFlush(): void {
    this.#flushTimer ??= setImmediate(() => this.#flush());
  }

  #setSync(mode: 'FULL' | 'NORMAL'): void {
    if (this.#sync === mode) return;
    // Not a prepared statement: SQLite applies PRAGMA synchronous when the statement is prepared,
    // not when it runs: two prepared once at open left the outbox at NORMAL (the one prepared last),
    // so inserts were committed without an fsync until the first acknowledgement switched modes.
    this.#db.pragma(`synchronous = ${mode}`);
    this.#sync = mode;
  }

  /** The synchronous mode SQLite applies now (2 = FULL, 1 = NORMAL): for tests. */
  get synchronousLevel(): number {
    return this.#db.pragma('synchronous', { simple: true }) as number;
  }

  /** Commits everything pending in one transaction, then settles the puts and reports evictions. */
  #flush(): void {
    if (this.#flushTimer !== undefined) {
      clearImmediate(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    // At most MAX_COMMIT puts per transaction: a burst of 20,000 puts committed as one transaction
    // keeps every message undeliverable (and a later alarm waiting) until the last is written; in
    // slices the pump starts on the first while the rest are committed, and alarms jump the queue.
    const batch = this.#pending.length > MAX_COMMIT ? this.#pending.splice(0, MAX_COMMIT) : this.#pending;
    if (batch === this.#pending) this.#pending = [];
    else this.#scheduleFlush();
    const acked = [...this.#acked.keys()];
    if (batch.length === 0 && acked.length === 0) return;
    let result: CommitResult;
    try {
      this.#setSync(batch.length > 0 ? 'FULL' : 'NORMAL');
      result = this.#commit(batch, acked);
    } catch (err) {
      // Nothing of the batch is stored; acked rows stay marked and are retried next flush.
      const e = new Error(`outbox commit failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.reject(e);
      for (const ev of summarize(batch)) this.emit('evicted', ev);
      // An ack-only failure loses nothing (the rows are retried, at worst resent); report it only to a listener
      // rather than crash the agent from a setImmediate.
      if (batch.length === 0 && this.listenerCount('error') > 0) this.emit('error', e);
      return;
    }
    for (const id of acked) this.#acked.delete(id);
    this.#lanes = result.lanes;
    this.#total = result.total;
    for (const ev of result.evicted) this.#invalidateTail(ev.lane);
    for (const id of result.dropped) this.#forgetSent(id);
    for (const o of result.outcomes) {
      if (!o.ok) continue;
      const lane = o.entry.lane;
      if (!this.#tailValid[lane] || !this.#tailComplete[lane]) continue;
      if (this.#tailBytes[lane] + o.entry.bytes > this.#maxTailBytes) {
        this.#tailComplete[lane] = false; // bounded memory: this row and later ones are read back
        continue;
      }
      this.#tail[lane].push(o.entry);
      this.#tailBytes[lane] += o.entry.bytes;
    }
    batch.forEach((p, i) => {
      const o = result.outcomes[i];
      if (o.ok) p.resolve(o.entry);
      else p.reject(o.error);
    });
    for (const ev of result.evicted) this.emit('evicted', ev);
  }

  /** Runs inside the transaction; works on a copy of the cached totals so a rollback leaves them untouched. */
  #apply(batch: Pending[], acked: number[]): CommitResult {
    for (const [first, last] of idRuns(acked)) this.#st.delRange.run(first, last);
    const lanes = emptyLanes(() => ({ count: 0, bytes: 0 }));
    for (const l of LANES) lanes[l] = { ...this.#lanes[l] };
    let total = this.#total;
    const evicted = new Map<string, EvictedEvent>();
    const note = (lane: Lane, reason: EvictedEvent['reason'], count: number, bytes: number) => {
      const key = `${lane}/${reason}`;
      const ev = evicted.get(key) ?? { lane, count: 0, bytes: 0, reason };
      ev.count += count;
      ev.bytes += bytes;
      evicted.set(key, ev);
    };
    const outcomes: Outcome[] = [];
    const dropped: number[] = [];
    for (const p of batch) {
      const { lane } = p.input;
      if (total + p.bytes > this.#capacity) {
        const plan = planEviction({
          lane, needBytes: total + p.bytes - this.#capacity, thinKeepEvery: this.#keepEvery,
          rows: (l) => this.#candidates(l),
        });
        if (!plan.enough && !storedOverCapacity(lane)) {
          note(lane, 'refused', 1, p.bytes);
          outcomes.push({ ok: false, error: new Error(
            `outbox capacity of ${this.#capacity} bytes exceeded: ${lane} message ${p.input.msgId} (${p.bytes} bytes) refused, ` +
            `only ${plan.freed} bytes could be evicted from lanes it may displace`) });
          continue;
        }
        for (const d of plan.drops) {
          for (const id of d.rowIds) this.#st.del.run(id);
          dropped.push(...d.rowIds);
          lanes[d.lane].count -= d.rowIds.length;
          lanes[d.lane].bytes -= d.bytes;
          total -= d.bytes;
          note(d.lane, d.reason, d.rowIds.length, d.bytes);
        }
      }
      const i = p.input;
      const info = this.#st.insert.run(lane, i.topic, i.payload, i.msgId, i.retain ? 1 : 0, p.createdAt, p.bytes);
      lanes[lane].count++;
      lanes[lane].bytes += p.bytes;
      total += p.bytes;
      outcomes.push({ ok: true, entry: { ...i, rowId: Number(info.lastInsertRowid), createdAt: p.createdAt, bytes: p.bytes } });
    }
    return { outcomes, evicted: [...evicted.values()], dropped, lanes, total };
  }

  /** Rows the policy may drop: stored, not in flight, not already acknowledged. */
  *#candidates(lane: Lane): Generator<PolicyRow> {
    for (const r of this.#st.laneRows.iterate(lane)) {
      if (this.#inFlight.has(r.row_id) || this.#acked.has(r.row_id)) continue;
      yield { rowId: r.row_id, bytes: r.bytes };
    }
  }
}
