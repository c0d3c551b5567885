import type { Logger } from '../../lib/logger.js';
import { CONTROL_LANES, LANE_WINDOW, type ControlLane } from './lanes.js';
import type { MqttSession } from './mqtt-session.js';
import type { Outbox, OutboxEntry } from './outbox.js';

/** Turns queued locations into one backfill batch payload; returns undefined to send them one by one. */
export type BatchBuilder = (entries: OutboxEntry[]) => { topic: string; payload: Buffer } | undefined;

/**
 * Moves messages from the durable outbox onto the control connection in lane
 * order, keeping each lane's unacknowledged window small (see LANE_WINDOW).
 * A message is deleted from the outbox only on PUBACK (or, for ackBy
 * 'ingest', when the ingest's acknowledgement arrives).
 */
export class ControlPump {
  readonly #outbox: Outbox;
  readonly #session: MqttSession;
  readonly #log: Logger;
  readonly #batch: BatchBuilder;
  readonly #batchMax: number;
  readonly #inFlight = new Map<ControlLane, { messages: number; bytes: number }>();
  #epoch = 0;
  #connectedAt = 0;
  #scheduled = false;

  constructor(outbox: Outbox, session: MqttSession, logger: Logger, batch: BatchBuilder, batchMax: number) {
    this.#outbox = outbox;
    this.#session = session;
    this.#log = logger;
    this.#batch = batch;
    this.#batchMax = batchMax;
    for (const lane of CONTROL_LANES) this.#inFlight.set(lane, { messages: 0, bytes: 0 });
    session.on('connect', () => {
      this.#connectedAt = Date.now();
      this.kick();
    });
    session.on('disconnect', () => this.#onDisconnect());
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

  #onDisconnect(): void {
    this.#epoch++;
    for (const f of this.#inFlight.values()) {
      f.messages = 0;
      f.bytes = 0;
    }
    this.#outbox.releaseAll();
  }

  #pump(): void {
    if (!this.#session.connected) return;
    for (const lane of CONTROL_LANES) {
      const window = LANE_WINDOW[lane];
      const f = this.#inFlight.get(lane)!;
      while (f.messages < window.messages && f.bytes < window.bytes && this.#outbox.has(lane)) {
        const take = lane === 'location' ? this.#batchMax : 1;
        const entries = this.#outbox.take(lane, take, Math.max(1, window.bytes - f.bytes));
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
    const f = this.#inFlight.get(lane)!;
    const epoch = this.#epoch;
    for (const s of sends) {
      const bytes = s.payload.length;
      f.messages++;
      f.bytes += bytes;
      this.#session.publish(s.topic, s.payload, { qos: 1, retain: s.retain }).then(
        () => {
          // A PUBACK is proof of delivery to the broker whatever happened since.
          const byPuback = s.rows.filter((r) => r.ackBy === 'puback').map((r) => r.rowId);
          if (byPuback.length > 0) this.#outbox.ack(byPuback);
          this.#settle(epoch, f, bytes);
        },
        (err: Error) => {
          if (/refused/.test(err.message)) {
            // The broker will never take it (ACL): dropping is the only way forward; say so loudly.
            this.#log.error({ topic: s.topic, err: err.message }, 'broker refused message; dropped');
            this.#outbox.ack(s.rows.map((r) => r.rowId));
          } else if (epoch === this.#epoch) {
            this.#outbox.release(s.rows.map((r) => r.rowId));
          }
          this.#settle(epoch, f, bytes);
        },
      );
    }
  }

  #settle(epoch: number, f: { messages: number; bytes: number }, bytes: number): void {
    if (epoch !== this.#epoch) return;
    f.messages--;
    f.bytes -= bytes;
    this.kick();
  }
}
