import type { DeviceStream } from '../../protocol/index.js';

/*
 * The platform store's contract. The ingest hands it batches of what it
 * accepted and rejected; the store commits each batch in one transaction and
 * only then does the ingest acknowledge anything (PUBACK to the broker, the
 * end-to-end confirmation to the device). Two back-ends implement it, SQLite
 * (embedded default) and PostgreSQL, and one test suite runs against both.
 *
 * Idempotency: a message is identified by (deviceId, id). Committing one that
 * is already stored stores nothing and reports it as a duplicate, whoever
 * stored it first (a device re-send, a broker redelivery, another worker).
 */

/** The message envelope every accepted message carries (protocol/envelope.ts). */
export interface StoredEnvelope {
  v: 1;
  id: string;
  deviceId: string;
  bootId: string;
  seq: number;
  ts: number;
  clock?: 'system' | 'gps' | 'unsynced';
  [field: string]: unknown;
}

/** A validated message the ingest accepted. */
export interface AcceptedMessage {
  deviceId: string;
  /** Which stream (status, health, event, location, alarm, result, media). */
  stream: DeviceStream;
  /** The topic it arrived on (a backfilled location: .../location/batch). */
  topic: string;
  /** Receipt time at the ingest, epoch ms. */
  rx: number;
  /** The whole message as validated (for a backfill batch: one item, with backfill: true). */
  msg: StoredEnvelope;
}

/** Input the ingest refused, kept with its reason (never silently dropped). */
export interface RejectedInput {
  rx: number;
  topic: string;
  /** The device the topic names, when it names a valid one. */
  deviceId?: string;
  /** Machine-readable category: bad-topic, not-json, schema, device-mismatch, unknown-channel, evidence, too-large, … */
  category: string;
  /** For a person: what was wrong, naming the field. */
  detail: string;
  /** The message id, when one could be read (so the device can be told). */
  msgId?: string;
  /** The start of the payload (at most 512 bytes). */
  payload: Buffer;
}

/** Per accepted message of a batch, in order: true = newly stored, false = already stored (duplicate). */
export interface CommitResult {
  stored: boolean[];
}

/** A stored message as read back: what arrived, when, and on which topic. */
export interface StoredMessage<T = StoredEnvelope> {
  rx: number;
  topic: string;
  m: T;
}

export interface StoreCounts {
  devices: number;
  /** Stored messages per stream. */
  messages: Record<string, number>;
  rejected: number;
  rejectReasons: Record<string, number>;
}

/** What the ingest needs of a store. Queries for the desk and the API live on the back-ends beside this. */
export interface IngestStore {
  readonly backend: 'sqlite' | 'postgres';
  /**
   * Commits one batch in one transaction: every new accepted message with the
   * rows derived from it (positions, events, alarm state, device state, …),
   * every rejection. Resolves only once the transaction is durable (survives
   * power loss). Rejects, having stored nothing, when the commit fails (disk
   * full, database down, read-only file): the caller then acknowledges nothing.
   */
  commit(accepted: AcceptedMessage[], rejected: RejectedInput[]): Promise<CommitResult>;
  /** A device's stored messages of one stream in receipt order (tests, tools, the simulator's summary). */
  messages(deviceId: string, stream: DeviceStream): Promise<StoredMessage[]>;
  /** Rejected input in receipt order. */
  rejected(): Promise<Array<Omit<RejectedInput, 'payload'> & { payload: string }>>;
  counts(): Promise<StoreCounts>;
  close(): Promise<void>;
}
