import type { ChunkRecord, Fix, Manifest } from '../../protocol/index.js';

/*
 * What the store's queries return (typed views, not rows) and what the
 * evidence index takes. Times are epoch ms; `rx` is receipt at the ingest,
 * `ts` the device's own time stamp.
 */

export type PresenceState = 'online' | 'offline' | 'shutdown';

export interface PresenceView {
  state: PresenceState;
  /** The boot the state belongs to. */
  bootId: string;
  /** Receipt time of the status that set it. */
  at: number;
  reason?: string;
}

export interface PositionView {
  deviceId: string;
  msgId: string;
  /** Receiver time of the fix. */
  fixTime: number;
  rx: number;
  ts: number;
  lat: number;
  lon: number;
  altM?: number;
  speedMps?: number;
  courseDeg?: number;
  accuracyM?: number;
  fixType: Fix['fixType'];
  satsUsed?: number;
  clock?: 'system' | 'gps' | 'unsynced';
  /** The device's last known fix rather than a current one. */
  stale: boolean;
  /** Why the device's policy reported (first, interval, displacement, locate, burst). */
  reason?: string;
  /** Queued while offline and sent late. */
  backfill: boolean;
}

export interface HealthView {
  deviceId: string;
  msgId: string;
  ts: number;
  rx: number;
  trigger: string;
  batteryPct?: number;
  /** The whole health message. */
  health: Record<string, unknown>;
}

export interface DeviceView {
  id: string;
  /** Receipt of its first and latest stored message (undefined for a device only registered). */
  firstSeen?: number;
  lastSeen?: number;
  /** From the retained birth and will; a stale will (another boot's) never lands here. */
  presence?: PresenceView;
  /** The boot of the latest birth. */
  birthBootId?: string;
  agentVersion?: string;
  /** The position with the latest fix time. */
  lastPosition?: PositionView;
  /** The latest health report received. */
  lastHealth?: HealthView;
  /** Registered Ed25519 public key (SPKI PEM). */
  publicKey?: string;
  keyRegisteredAt?: number;
}

export interface EventView {
  deviceId: string;
  msgId: string;
  ts: number;
  rx: number;
  kind: string;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  data?: Record<string, unknown>;
}

export type DeviceAlarmState = 'raised' | 'acknowledged' | 'cancelled' | 'resolved';

/** One alarm as the device reported it (the alarm desk keeps its own state beside it). */
export interface AlarmView {
  deviceId: string;
  alarmId: string;
  /** The furthest state the device reported (raised < acknowledged < cancelled | resolved); a late re-send never moves it back. */
  state: DeviceAlarmState;
  trigger: 'button' | 'command' | 'test';
  raisedAt: number;
  /** Highest escalation level seen. */
  escalation: number;
  /** Stored `raised` messages beyond the first. */
  resends: number;
  /** Stored alarm messages of this alarm. */
  messages: number;
  /** The fix of the latest message that carried one. */
  lastFix?: Fix;
  batteryPct?: number;
  firstRx: number;
  lastRx: number;
}

export interface AlarmHistoryEntry {
  msgId: string;
  state: DeviceAlarmState;
  escalation: number;
  seq: number;
  ts: number;
  rx: number;
}

export interface AlarmDetail extends AlarmView {
  /** Every stored message of the alarm, in receipt order. */
  history: AlarmHistoryEntry[];
}

export interface ResultView {
  deviceId: string;
  requestId: string;
  msgId: string;
  name: string;
  status: 'ok' | 'error' | 'refused' | 'expired' | 'unknown';
  reason?: string;
  result?: unknown;
  restartRequired: boolean;
  ts: number;
  rx: number;
}

export interface ChunkView {
  index: number;
  sha256: string;
  bytes: number;
  /** The chunk file in the evidence store. */
  path: string;
  link: string;
  startTime: number;
  endTime: number;
  verified: boolean;
  storedAt: number;
}

export type VisitVerification = 'pending' | 'verified' | 'failed';

/** A recording session: opened by its first stored chunk, closed by its manifest. */
export interface VisitView {
  deviceId: string;
  sessionId: string;
  visitId?: string;
  trigger?: 'visit' | 'sos';
  startedAt?: number;
  endedAt?: number;
  state: 'recording' | 'closed';
  verification: VisitVerification;
  verificationDetail?: string;
  manifest?: Manifest;
  manifestPath?: string;
  chunks: ChunkView[];
}

/** A chunk the evidence store has on disk (file and chain line fsynced), to index. */
export interface ChunkIndexInput {
  record: ChunkRecord;
  /** Where the evidence store keeps the bytes. */
  path: string;
  /** Bytes, signature and chain continuity checked at intake. */
  verified: boolean;
  storedAt: number;
}

/** A session's manifest the evidence store has on disk, to index. */
export interface ManifestIndexInput {
  manifest: Manifest;
  path: string;
  verification: VisitVerification;
  /** Why verification failed, for a person. */
  detail?: string;
  storedAt: number;
}

export interface TimeRange {
  /** Inclusive lower bound (epoch ms). */
  from?: number;
  /** Exclusive upper bound (epoch ms). */
  to?: number;
  /** At most this many rows (default 1000, at most 100,000). */
  limit?: number;
  /** Oldest first (default) or newest first. */
  order?: 'asc' | 'desc';
}
