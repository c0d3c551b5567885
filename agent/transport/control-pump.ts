import { EventEmitter } from 'node:events';
import { Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/logger.js';
import { CONFIRM_WINDOW, CONTROL_LANES, LANE_WINDOW, type ControlLane } from './lanes.js';
import type { MqttSession } from './mqtt-session.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { refusalOf, type Refusal } from './refusal.js';

/** Turns queued locations into one backfill batch payload; returns undefined to send them one by one. */
export type BatchBuilder = (entries: OutboxEntry[]) => { topic: string; payload: Buffer } | undefined;

export interface ControlPumpOptions {
  /** A message the broker acknowledged but the platform has not confirmed after this long is sent again (default 20 s). */
  confirmTimeoutMs?: number;
  /** The timeout doubles while re-sends stay unconfirmed (the ingest is away), up to this (default 10 min). */
  maxConfirmTimeoutMs?: number;
  /** First retry delay cap after a broker refusal (default 1 s), growing to `maxRefusedRetryMs` (default 5 min). */
  refusedRetryMs?: number;
  maxRefusedRetryMs?: number;
  /** How often timeouts and retries are checked (default 500 ms). */
  tickMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface ControlPumpEvents {
  /** The broker started refusing publishes to a topic (or refuses with another reason now). */
  refused: [Refusal];
  /** A topic that was refused is accepted again. */
  accepted: [{ topic: string }];
}

interface LaneState {
  /** Published, waiting for PUBACK (this connection): publishes, their bytes, and the outbox rows they carry. */
  pub: { messages: number; bytes: number; rows: number };
  /** PUBACKed, waiting for the platform's confirmation: row id → when and how big (insertion order = time order). */
  awaiting: Map<number, { at: number; bytes: number }>;
  /** Refused by the broker, kept (in flight in the outbox, so not taken again) until retryAt. */
  held: Map<number, { retryAt: number; bytes: number; topic: string }>;
  /** Bytes of `awaiting` and `held` (kept, not summed per pass). */
  awaitingBytes: number;
  heldBytes: number;
  /** Current confirmation timeout: doubles while re-sends go unconfirmed, back to the base on a confirmation. */
  timeoutMs: number;
}

const empty = (): LaneState['pub'] => ({ messages: 0, bytes: 0, rows: 0 });

function await_(st: LaneState, rowId: number, at: number, bytes: number): void {
  if (st.awaiting.has(rowId)) return;
  st.awaiting.set(rowId, { at, bytes });
  st.awaitingBytes += bytes;
}
function hold(st: LaneState, rowId: number, retryAt: number, bytes: number, topic: string): void {
  const h = st.held.get(rowId);
  if (h !== undefined) {
    h.retryAt = retryAt;
    return;
  }
  st.held.set(rowId, { retryAt, bytes, topic });
  st.heldBytes += bytes;
}
/** Forgets a row's awaiting/held mark; true when it had one. */
function unmark(st: LaneState, rowId: number): boolean {
  const a = st.awaiting.get(rowId);
  if (a !== undefined) {
    st.awaiting.delete(rowId);
    st.awaitingBytes -= a.bytes;
    return true;
  }
  const h = st.held.get(rowId);
  if (h !== undefined) {
    st.held.delete(rowId);
    st.heldBytes -= h.bytes;
    return true;
  }
  return false;
}

/**
 * Moves messages from the durable outbox onto the control connection in lane
 * order. A message leaves the outbox only when the platform confirms it has
 * it in its store (`confirm`, from the ingest's acknowledgement on cmd/ack):
 * the broker's PUBACK only moves it from "published" to "awaiting
 * confirmation", because a broker may lose what it acknowledged (a crash, a
 * restart without persistence, its queue limit). What stays unconfirmed is
 * sent again after a reconnect or a timeout.
 *
 * Two windows per lane: LANE_WINDOW bounds what waits for a PUBACK (a backlog
 * must not sit in the modem's FIFO in front of a later alarm), CONFIRM_WINDOW
 * bounds what waits for the platform (while the ingest is away the device
 * keeps its backlog instead of pouring it into a broker that may drop it).
 *
 * A publish the broker refuses (an MQTT 5 PUBACK reason code ≥ 0x80, e.g. 0x87
 * not authorized) is kept and retried with backoff per topic; the first
 * refusal of a topic and its recovery are reported once each ('refused',
 * 'accepted'). On MQTT 3.1.1 a broker cannot say no: it drops silently, the
 * confirmation never comes, and the confirmation timeout (doubling) is the
 * retry. Either way nothing is dropped and nothing loops.
 */
export class ControlPump extends EventEmitter<ControlPumpEvents> {
  readonly #outbox: Outbox;
  readonly #session: MqttSession;
  readonly #log: Logger;
  readonly #batch: BatchBuilder;
  readonly #batchMax: number;
  readonly #o: Required<ControlPumpOptions>;
  readonly #lanes = new Map<ControlLane, LaneState>();
  /**
   * Topics the broker refuses: the refusal, the retry backoff, when the next attempt may go, and
   * whether one is out. Only one message per refused topic is published at a time (a probe);
   * the others wait held, so a refused topic costs one publish per backoff interval, however
   * many messages queue for it.
   */
  readonly #refused = new Map<string, { refusal: Refusal; backoff: Backoff; retryAt: number; probing: boolean }>();
  readonly #timer: NodeJS.Timeout;
  #epoch = 0;
  /**
   * Bumped by resendNow(). A publish still waiting for its PUBACK when the platform said it is back
   * may have reached the broker before the platform's subscription did (measured: a backlog batch
   * sent right after a broker restart, its PUBACK processed just after the platform's "online"):
   * its PUBACK then only means "nobody was listening", and it is sent again at once instead of
   * waiting out the confirmation timeout.
   */
  #resendGen = 0;
  #connectedAt = 0;
  #scheduled = false;

  constructor(outbox: Outbox, session: MqttSession, logger: Logger, batch: BatchBuilder, batchMax: number, opts: ControlPumpOptions = {}) {
    super();
    this.#outbox = outbox;
    this.#session = session;
    this.#log = logger;
    this.#batch = batch;
    this.#batchMax = batchMax;
    this.#o = {
      confirmTimeoutMs: 20_000, maxConfirmTimeoutMs: 600_000, refusedRetryMs: 1000, maxRefusedRetryMs: 300_000,
      tickMs: 500, now: Date.now, random: Math.random, ...opts,
    };
    for (const lane of CONTROL_LANES) {
      this.#lanes.set(lane, { pub: empty(), awaiting: new Map(), held: new Map(), awaitingBytes: 0, heldBytes: 0, timeoutMs: this.#o.confirmTimeoutMs });
    }
    session.on('connect', () => {
      this.#connectedAt = this.#o.now();
      this.kick();
    });
    session.on('disconnect', () => this.#onDisconnect());
    this.#timer = setInterval(() => this.#tick(), this.#o.tickMs);
    this.#timer.unref();
  }

  /** Schedules a pump pass (coalesced: many puts in one tick cause one pass). */
  kick(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  /** The platform has these message ids in its store: forget them. Returns how many were ours. */
  confirm(msgIds: readonly string[]): number {
    const rows = this.#outbox.confirm(msgIds);
    for (const r of rows) {
      const st = this.#lanes.get(r.lane as ControlLane);
      if (st === undefined) continue;
      unmark(st, r.rowId);
      st.timeoutMs = this.#o.confirmTimeoutMs;
    }
    if (rows.length > 0) this.kick();
    return rows.length;
  }

  /**
   * Sends again, now, everything the broker acknowledged but the platform has not confirmed (the
   * platform says it is back: a broker that restarted empty lost it). Returns how many.
   */
  resendNow(): number {
    this.#resendGen++;
    let n = 0;
    for (const st of this.#lanes.values()) {
      n += st.pub.rows;
      const ids = [...st.awaiting.keys()];
      for (const id of ids) unmark(st, id);
      st.timeoutMs = this.#o.confirmTimeoutMs;
      if (ids.length > 0) this.#outbox.release(ids);
      n += ids.length;
    }
    if (n > 0) this.kick();
    return n;
  }

  /** Topics the broker currently refuses, with its reason (for health and doctor). */
  refusals(): Refusal[] {
    return [...this.#refused.values()].map((r) => r.refusal);
  }

  /** Per lane: messages waiting for the platform's confirmation, and refused ones waiting for a retry. */
  unconfirmed(): Record<ControlLane, { awaiting: number; held: number }> {
    return Object.fromEntries([...this.#lanes].map(([l, s]) => [l, { awaiting: s.awaiting.size, held: s.held.size }])) as Record<ControlLane, { awaiting: number; held: number }>;
  }

  dispose(): void {
    clearInterval(this.#timer);
  }

  #onDisconnect(): void {
    this.#epoch++;
    for (const r of this.#refused.values()) r.probing = false;
    for (const st of this.#lanes.values()) {
      st.pub = empty();
      // Whatever the broker acknowledged may be lost with it: send it again on the next connection.
      st.awaiting.clear();
      st.held.clear();
      st.awaitingBytes = 0;
      st.heldBytes = 0;
    }
    this.#outbox.releaseAll();
  }

  #pump(): void {
    if (!this.#session.connected) return;
    for (const lane of CONTROL_LANES) {
      const window = LANE_WINDOW[lane];
      const confirmWindow = CONFIRM_WINDOW[lane];
      const st = this.#lanes.get(lane)!;
      while (this.#outbox.has(lane)) {
        const unconfirmed = st.pub.messages + st.awaiting.size + st.held.size;
        if (st.pub.messages >= window.messages || st.pub.bytes >= window.bytes || unconfirmed >= confirmWindow.messages) break;
        const confirmBytes = st.pub.bytes + st.awaitingBytes + st.heldBytes;
        if (confirmBytes >= confirmWindow.bytes) break;
        const take = lane === 'location' ? Math.min(this.#batchMax, confirmWindow.messages - unconfirmed) : 1;
        const entries = this.#outbox.take(lane, take, Math.max(1, Math.min(window.bytes - st.pub.bytes, confirmWindow.bytes - confirmBytes)));
        if (entries.length === 0) break;
        this.#send(lane, entries);
      }
    }
  }

  #send(lane: ControlLane, entries: OutboxEntry[]): void {
    // Locations queued before this connection existed (an outage or restart backlog) go out as a
    // backfill batch, even a single one left over at the end; a live location goes out on its own.
    const backlog = lane === 'location' && (entries.length > 1 || entries[0].createdAt < this.#connectedAt);
    const batch = backlog ? this.#batch(entries) : undefined;
    const sends: Array<{ topic: string; payload: Buffer; retain: boolean; rows: OutboxEntry[] }> = batch
      ? [{ ...batch, retain: false, rows: entries }]
      : entries.map((e) => ({ topic: e.topic, payload: e.payload, retain: e.retain, rows: [e] }));
    const st = this.#lanes.get(lane)!;
    const epoch = this.#epoch;
    const gen = this.#resendGen;
    const now = this.#o.now();
    for (const s of sends) {
      const refused = this.#refused.get(s.topic);
      if (refused !== undefined) {
        if (refused.probing || now < refused.retryAt) {
          for (const r of s.rows) hold(st, r.rowId, refused.probing ? Number.POSITIVE_INFINITY : refused.retryAt, r.bytes, s.topic);
          continue;
        }
        refused.probing = true; // this one goes; the rest of the topic waits for its answer
      }
      const bytes = s.payload.length;
      const rows = s.rows.length;
      st.pub.messages++;
      st.pub.bytes += bytes;
      st.pub.rows += rows;
      this.#session.publish(s.topic, s.payload, { qos: 1, retain: s.retain }).then(
        () => {
          if (epoch !== this.#epoch) return;
          this.#settle(st, bytes, rows);
          this.#accepted(s.topic);
          if (gen !== this.#resendGen) {
            this.#outbox.release(s.rows.map((r) => r.rowId));
            return;
          }
          const at = this.#o.now();
          // A confirmation may have overtaken the PUBACK: only rows still in flight wait for one.
          for (const r of s.rows) if (this.#outbox.isInFlight(r.rowId)) await_(st, r.rowId, at, r.bytes);
        },
        (err: Error & { code?: unknown }) => {
          if (epoch !== this.#epoch) return;
          this.#settle(st, bytes, rows);
          const refusal = refusalOf(s.topic, err);
          if (refusal === undefined) {
            const r = this.#refused.get(s.topic);
            if (r !== undefined) r.probing = false;
            this.#outbox.release(s.rows.map((r) => r.rowId));
            return;
          }
          const retryAt = this.#refusedRetryAt(refusal);
          for (const r of s.rows) if (this.#outbox.isInFlight(r.rowId)) hold(st, r.rowId, retryAt, r.bytes, s.topic);
          // Whatever waited for this probe now waits for the next attempt.
          for (const h of st.held.values()) if (h.topic === s.topic && h.retryAt > retryAt) h.retryAt = retryAt;
        },
      );
    }
  }

  #settle(st: LaneState, bytes: number, rows: number): void {
    st.pub.messages--;
    st.pub.bytes -= bytes;
    st.pub.rows -= rows;
    this.kick();
  }

  /** Records a refusal of a topic (reported when new or changed); returns when the topic may be tried again. */
  #refusedRetryAt(refusal: Refusal): number {
    let known = this.#refused.get(refusal.topic);
    if (known === undefined || known.refusal.reasonCode !== refusal.reasonCode) {
      this.#log.warn({ topic: refusal.topic, reasonCode: refusal.reasonCode, reason: refusal.reason }, 'broker refuses publishes to this topic; keeping them and retrying with backoff (check the broker ACL for this device)');
      known = { refusal, backoff: known?.backoff ?? new Backoff(this.#o.refusedRetryMs, this.#o.maxRefusedRetryMs, this.#o.random), retryAt: 0, probing: false };
      this.#refused.set(refusal.topic, known);
      this.emit('refused', refusal);
    }
    known.probing = false;
    // At least the first cap's worth apart: full jitter alone could retry within milliseconds.
    known.retryAt = this.#o.now() + Math.max(this.#o.refusedRetryMs / 4, known.backoff.next());
    return known.retryAt;
  }

  #accepted(topic: string): void {
    if (!this.#refused.delete(topic)) return;
    this.#log.info({ topic }, 'broker accepts publishes to this topic again');
    this.emit('accepted', { topic });
    // What waited for the topic goes now.
    for (const st of this.#lanes.values()) for (const h of st.held.values()) if (h.topic === topic) h.retryAt = 0;
    this.#tick();
  }

  /** Re-sends what timed out waiting for a confirmation, and refused messages whose retry is due. */
  #tick(): void {
    if (!this.#session.connected) return;
    const now = this.#o.now();
    let released = 0;
    for (const [lane, st] of this.#lanes) {
      const timedOut: number[] = [];
      for (const [rowId, a] of st.awaiting) {
        if (now - a.at < st.timeoutMs) break; // insertion order is time order: the rest are younger
        timedOut.push(rowId);
      }
      if (timedOut.length > 0) {
        this.#log.info({ lane, messages: timedOut.length, afterMs: st.timeoutMs }, 'no confirmation from the platform; sending again');
        st.timeoutMs = Math.min(this.#o.maxConfirmTimeoutMs, st.timeoutMs * 2);
      }
      const retry = [...st.held].filter(([, h]) => h.retryAt <= now).map(([rowId]) => rowId);
      const due = [...timedOut, ...retry];
      if (due.length === 0) continue;
      for (const id of due) unmark(st, id);
      this.#outbox.release(due);
      released += due.length;
    }
    if (released > 0) this.kick();
  }

}
