import type { DeviceStream } from '../../protocol/index.js';
import type { TokenStore } from './tokens.js';
import type {
  AlarmDetail,
  AlarmView,
  ChunkIndexInput,
  DeviceView,
  EventView,
  HealthView,
  ManifestIndexInput,
  PositionView,
  ResultView,
  TimeRange,
  VisitView,
} from './views.js';

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
  /** The evidence index (see PlatformStore): the ingest records what the evidence store has on disk. */
  recordChunk(chunk: ChunkIndexInput): Promise<boolean>;
  recordManifest(manifest: ManifestIndexInput): Promise<boolean>;
  visit(deviceId: string, sessionId: string): Promise<VisitView | undefined>;
}

/** Why a store operation failed, for the caller to branch on (never on the message text). */
export type StoreFailure = 'unavailable' | 'full' | 'read-only' | 'busy' | 'io' | 'conflict' | 'other';

/** A failed store operation: which back-end, what kind of failure, the driver's code (SQLITE_FULL, 57P01, ECONNREFUSED). */
export class StoreError extends Error {
  readonly backend: 'sqlite' | 'postgres';
  readonly kind: StoreFailure;
  readonly code: string | undefined;

  constructor(backend: 'sqlite' | 'postgres', kind: StoreFailure, message: string, code: string | undefined, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreError';
    this.backend = backend;
    this.kind = kind;
    this.code = code;
  }
}

/** A value bound to a `?` placeholder of the platform's own tables (booleans as 0/1, JSON as text). */
export type SqlValue = string | number | null;

/** A row of the platform's own tables as the driver returns it (BIGINT as a number in both back-ends). */
export type SqlRow = Record<string, unknown>;

/** One statement of a `transact` call. */
export interface SqlStatement {
  sql: string;
  params?: readonly SqlValue[];
  /**
   * A compare-and-set: when this statement changes no row, the whole
   * transaction is rolled back and `transact` resolves undefined.
   */
  mustChange?: boolean;
}

/** What one statement did: rows changed, and the rows it returned (RETURNING). */
export interface SqlOutcome {
  changes: number;
  rows: SqlRow[];
}

/**
 * The whole store: the ingest's contract, the evidence index, device keys and
 * the queries the alarm desk, the API and the console read through.
 */
export interface PlatformStore extends IngestStore, TokenStore {
  /** Where it is, for logs: the path, or the URL without its password. */
  readonly location: string;

  /** Registers (or replaces) a device's Ed25519 public key (PEM, SPKI or any form node:crypto reads); a private key is refused. */
  registerDeviceKey(deviceId: string, publicKeyPem: string): Promise<void>;
  /** The registered public key (SPKI PEM), if any. */
  deviceKey(deviceId: string): Promise<string | undefined>;
  /**
   * Indexes a chunk the evidence store has on disk; opens its session's visit
   * row. Idempotent: true when newly indexed, false when already indexed with
   * the same link. A different link for an indexed (device, session, index)
   * is a fork and throws (StoreError kind 'conflict'), indexing nothing.
   */
  recordChunk(chunk: ChunkIndexInput): Promise<boolean>;
  /**
   * Indexes a session's manifest and closes its visit. Idempotent: false when
   * the same manifest (same last link and signature) with the same
   * verification is already indexed; a different one replaces it (as the
   * evidence store replaces the file).
   */
  recordManifest(manifest: ManifestIndexInput): Promise<boolean>;

  devices(): Promise<DeviceView[]>;
  device(deviceId: string): Promise<DeviceView | undefined>;
  /** Positions of a device by fix time. */
  positions(deviceId: string, range?: TimeRange): Promise<PositionView[]>;
  /** Events by device time, of one device or all. */
  events(range?: TimeRange & { deviceId?: string; kind?: string }): Promise<EventView[]>;
  /** Health reports of a device by device time. */
  health(deviceId: string, range?: TimeRange): Promise<HealthView[]>;
  /** Alarms the device has not reported cancelled or resolved, oldest raised first. */
  openAlarms(): Promise<AlarmView[]>;
  /** Alarms by raise time, of one device or all. */
  alarms(range?: TimeRange & { deviceId?: string }): Promise<AlarmView[]>;
  /** One alarm with every message stored for it. */
  alarm(deviceId: string, alarmId: string): Promise<AlarmDetail | undefined>;
  /** Alarms with this id, whatever the device (ids are the device's, so two devices may collide). */
  findAlarms(alarmId: string): Promise<AlarmView[]>;
  /** The results stored for a command request (normally one: the device it was sent to). */
  results(requestId: string): Promise<ResultView[]>;
  /** Visits of a device overlapping a time range (a day: from = midnight, to = next midnight), with their chunks. */
  visits(deviceId: string, range?: TimeRange): Promise<VisitView[]>;
  visit(deviceId: string, sessionId: string): Promise<VisitView | undefined>;

  /**
   * The platform's own state beside what devices sent: the alarm desk's and
   * the command sender's tables (created by this store's migrations, read and
   * written by platform/desk and platform/commands). Statements are SQL both
   * back-ends accept (`?` placeholders, ON CONFLICT, RETURNING; JSON as TEXT)
   * and run in order in one transaction, durable when this resolves. Resolves
   * with one outcome per statement, or undefined when a `mustChange`
   * statement changed nothing (then nothing of it is kept): several workers
   * claim the same piece of work with `UPDATE … WHERE version = ?`, and
   * exactly one of them wins. Failures reject with a StoreError.
   */
  transact(statements: readonly SqlStatement[]): Promise<SqlOutcome[] | undefined>;
  /** A read of those tables (`?` placeholders). */
  select(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
}
