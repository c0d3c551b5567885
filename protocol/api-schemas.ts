import { Type, type TSchema } from '@sinclair/typebox';
import { Id } from './envelope.js';
import { Health } from './health.js';
import { Manifest } from './media.js';
import { Fix } from './messages.js';

/*
 * The HTTP API's response and request schemas (the route table is in
 * api.ts). Schemas with an $id become named components of the OpenAPI
 * document.
 */

export const API_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ApiRoleName = (typeof API_ROLES)[number];
const lit = <const T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

export const Role = lit(API_ROLES);
const Ms = Type.Integer({ description: 'epoch ms' });
const AgeMs = Type.Integer({ description: 'age in ms by the server clock (negative when the device clock runs ahead)' });
const Strict = { additionalProperties: false } as const;

export const ApiError = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  error: Type.String({ description: 'the HTTP reason phrase' }),
  code: Type.String({ description: 'machine-readable: unauthorized, forbidden, not-found, ambiguous-alarm, invalid, too-large, rate-limited, …' }),
  message: Type.String({ description: 'for a person: what was wrong and what to do' }),
  devices: Type.Optional(Type.Array(Type.String(), { description: 'ambiguous-alarm: the devices that have an alarm with this id' })),
}, { $id: 'Error', ...Strict });

// ---- devices, positions, health

const positionFields = {
  deviceId: Id,
  msgId: Id,
  fixTime: Type.Integer({ description: 'receiver time of the fix, epoch ms' }),
  rx: Type.Integer({ description: 'received by the ingest, epoch ms' }),
  ts: Type.Integer({ description: 'the device\'s message time stamp, epoch ms' }),
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lon: Type.Number({ minimum: -180, maximum: 180 }),
  altM: Type.Optional(Type.Number()),
  speedMps: Type.Optional(Type.Number({ minimum: 0 })),
  courseDeg: Type.Optional(Type.Number({ minimum: 0, maximum: 360 })),
  accuracyM: Type.Optional(Type.Number({ minimum: 0 })),
  fixType: Fix.properties.fixType,
  satsUsed: Type.Optional(Type.Integer({ minimum: 0 })),
  clock: Type.Optional(lit(['system', 'gps', 'unsynced'])),
  stale: Type.Boolean({ description: 'the device\'s last known fix rather than a current one' }),
  reason: Type.Optional(Type.String({ description: 'why the device reported: first, interval, displacement, locate, burst' })),
  backfill: Type.Boolean({ description: 'queued while offline and sent late' }),
};

export const Position = Type.Object(positionFields, { $id: 'Position', ...Strict });
export const LastPosition = Type.Object({ ...positionFields, ageMs: AgeMs }, { $id: 'LastPosition', ...Strict });

export const Presence = Type.Object({
  state: lit(['online', 'offline', 'shutdown']),
  bootId: Id,
  at: Ms,
  reason: Type.Optional(Type.String()),
}, { $id: 'Presence', description: 'From the retained birth and last will (a stale will of an earlier boot never lands here).', ...Strict });

export const HealthSummary = Type.Object({
  msgId: Id,
  ts: Ms,
  rx: Ms,
  ageMs: AgeMs,
  trigger: Type.String(),
  batteryPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  report: Health,
}, { $id: 'HealthSummary', ...Strict });

export const OFFLINE_CAUSES = ['will', 'shutdown', 'silent', 'never-seen'] as const;

export const Device = Type.Object({
  id: Id,
  status: lit(['online', 'offline']),
  offlineCause: Type.Optional(Type.Union(OFFLINE_CAUSES.map((c) => Type.Literal(c)), {
    description: 'will: the broker published its last will (connection lost); shutdown: it said goodbye; silent: nothing received for longer than the silence limit; never-seen: registered, nothing received yet',
  })),
  firstSeen: Type.Optional(Ms),
  lastSeen: Type.Optional(Type.Integer({ description: 'receipt of its latest stored message, epoch ms' })),
  lastSeenAgeMs: Type.Optional(AgeMs),
  presence: Type.Optional(Presence),
  agentVersion: Type.Optional(Type.String()),
  keyRegistered: Type.Boolean({ description: 'an evidence public key is registered' }),
  lastPosition: Type.Optional(LastPosition),
  lastHealth: Type.Optional(HealthSummary),
}, { $id: 'Device', ...Strict });

export const DeviceList = Type.Object({
  now: Ms,
  silenceMs: Type.Integer({ minimum: 1, description: 'a device silent for longer is offline (cause silent)' }),
  devices: Type.Array(Device),
}, { $id: 'DeviceList', ...Strict });

export const DeviceDetail = Type.Object({ now: Ms, silenceMs: Type.Integer({ minimum: 1 }), device: Device }, { $id: 'DeviceDetail', ...Strict });

export const PositionList = Type.Object({
  deviceId: Id,
  from: Type.Optional(Ms),
  to: Type.Optional(Ms),
  limit: Type.Integer({ minimum: 1 }),
  count: Type.Integer({ minimum: 0 }),
  truncated: Type.Boolean({ description: 'as many positions as the limit: there may be more; narrow the range or raise the limit' }),
  positions: Type.Array(Position),
}, { $id: 'PositionList', ...Strict });

export const HealthList = Type.Object({ deviceId: Id, now: Ms, reports: Type.Array(HealthSummary) }, { $id: 'HealthList', ...Strict });

export const SEVERITIES = ['info', 'warning', 'critical'] as const;

export const DeviceEvent = Type.Object({
  deviceId: Id,
  msgId: Id,
  ts: Type.Integer({ description: 'the device\'s time stamp, epoch ms' }),
  rx: Type.Integer({ description: 'received by the ingest, epoch ms' }),
  ageMs: AgeMs,
  kind: Type.String({ description: 'e.g. storage, gps.link, button.fault' }),
  severity: lit(SEVERITIES),
  message: Type.String(),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
}, { $id: 'DeviceEvent', description: 'Something a device reported: storage pressure, link or module state changes, faults.', ...Strict });

export const EventList = Type.Object({ now: Ms, events: Type.Array(DeviceEvent) }, { $id: 'EventList', ...Strict });

// ---- alarms (the alarm desk's view: platform/desk/types.ts)

export const DESK_STATES = ['raised', 'notifying', 'acknowledged', 'resolved', 'cancelled'] as const;
export const DeskState = lit(DESK_STATES);

export const NotificationAttempt = Type.Object({
  tier: Type.Integer({ minimum: 0 }),
  attempt: Type.Integer({ minimum: 0 }),
  channel: lit(['webhook', 'email', 'sms', 'console']),
  recipient: Type.String({ description: 'contact name and address (URL host, e-mail address, phone number), never a secret' }),
  key: Type.String({ description: 'idempotency key sent with it' }),
  at: Ms,
  result: lit(['pending', 'sent', 'failed']),
  latencyMs: Type.Optional(Type.Number({ minimum: 0 })),
  error: Type.Optional(Type.String()),
}, { $id: 'NotificationAttempt', ...Strict });

export const Alarm = Type.Object({
  deviceId: Id,
  alarmId: Id,
  state: DeskState,
  deviceState: lit(['raised', 'acknowledged', 'cancelled', 'resolved']),
  deviceAcknowledgedAt: Type.Optional(Ms),
  raisedAt: Ms,
  receivedAt: Ms,
  trigger: lit(['button', 'command', 'test']),
  resends: Type.Integer({ minimum: 0 }),
  lastFix: Type.Optional(Fix),
  batteryPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  tier: Type.Integer({ minimum: 0 }),
  nextStepAt: Type.Optional(Ms),
  acknowledgedBy: Type.Optional(Type.String()),
  acknowledgedAt: Type.Optional(Ms),
  resolvedBy: Type.Optional(Type.String()),
  resolvedAt: Type.Optional(Ms),
  note: Type.Optional(Type.String()),
  history: Type.Array(Type.Object({ at: Ms, state: DeskState, by: Type.Optional(Type.String()), note: Type.Optional(Type.String()) }, Strict)),
  attempts: Type.Array(NotificationAttempt),
  ackCommand: Type.Optional(Type.Object({
    requestId: Id,
    sentAt: Ms,
    status: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
    answeredAt: Type.Optional(Ms),
  }, Strict)),
}, { $id: 'Alarm', description: 'An alarm as the alarm desk keeps it, beside the device\'s own state.', ...Strict });

export const AlarmList = Type.Object({ alarms: Type.Array(Alarm) }, { $id: 'AlarmList', ...Strict });
export const AlarmAction = Type.Object({
  already: Type.Boolean({ description: 'it was acknowledged (or resolved) before: nothing changed' }),
  alarm: Alarm,
}, { $id: 'AlarmAction', ...Strict });

// ---- visits

export const Chunk = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  bytes: Type.Integer({ minimum: 0 }),
  link: Type.String({ description: 'its link in the signed hash chain' }),
  startTime: Ms,
  endTime: Ms,
  verified: Type.Boolean({ description: 'bytes, signature and chain checked at intake' }),
  storedAt: Ms,
}, { $id: 'Chunk', ...Strict });

export const Visit = Type.Object({
  deviceId: Id,
  sessionId: Id,
  visitId: Type.Optional(Id),
  trigger: Type.Optional(lit(['visit', 'sos'])),
  startedAt: Type.Optional(Ms),
  endedAt: Type.Optional(Ms),
  state: lit(['recording', 'closed']),
  verification: lit(['pending', 'verified', 'failed']),
  verificationDetail: Type.Optional(Type.String()),
  manifest: Type.Optional(Manifest),
  chunks: Type.Array(Chunk),
}, { $id: 'Visit', description: 'A recording session: opened by its first stored chunk, closed by its signed manifest.', ...Strict });

export const VisitList = Type.Object({ visits: Type.Array(Visit) }, { $id: 'VisitList', ...Strict });

// ---- evidence: what the files hold now, the bytes, the bundle

export const CHUNK_STATES = ['verified', 'missing', 'rejected'] as const;

export const ChunkCheck = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  state: lit(CHUNK_STATES),
  reason: Type.Optional(Type.String({ description: 'why it is missing or rejected, for a person' })),
  startTime: Type.Optional(Ms),
  endTime: Type.Optional(Ms),
  durationS: Type.Optional(Type.Number({ minimum: 0 })),
  bytes: Type.Optional(Type.Integer({ minimum: 0 })),
}, { $id: 'ChunkCheck', ...Strict });

export const VisitCheck = Type.Object({
  deviceId: Id,
  sessionId: Id,
  checkedAt: Ms,
  state: lit(['verified', 'failed', 'incomplete']),
  keySource: Type.Optional(Type.String({ description: 'where the device key came from: the ingest\'s key directory or the store' })),
  problems: Type.Array(Type.String(), { description: 'what is wrong with the session as a whole (no manifest, no key, a bad manifest signature)' }),
  chunks: Type.Array(ChunkCheck),
  gaps: Type.Array(Type.Object({ from: Ms, to: Ms, reason: Type.String() }, Strict), { description: 'the device\'s own gaps (manifest), and holes between consecutive stored chunks' }),
  alarms: Type.Array(Id, { description: 'alarm ids raised during the session (manifest)' }),
}, { $id: 'VisitCheck', description: 'A visit\'s evidence audited now, file by file, as nrec verify does: each chunk verified (bytes match the signed hash, chain and signature sound), missing or rejected with the reason.', ...Strict });

// ---- the console

export const ConsoleSettings = Type.Object({
  tiles: Type.Optional(Type.Object({
    url: Type.String({ description: 'OSM-style template: {z}/{x}/{y}, optionally {s}' }),
    attribution: Type.String(),
    maxZoom: Type.Integer({ minimum: 1, maximum: 24 }),
  }, Strict)),
  names: Type.Record(Type.String(), Type.String(), { description: 'device id → the wearer\'s name, from the contacts file' }),
  silenceMs: Type.Integer({ minimum: 1 }),
}, { $id: 'ConsoleSettings', description: 'What the operator console needs to draw: the map tile source (absent: a plain background), the nurses\' names.', ...Strict });

export const TrackPoint = Type.Object({
  t: Type.Integer({ description: 'fix time, epoch ms' }),
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lon: Type.Number({ minimum: -180, maximum: 180 }),
  acc: Type.Optional(Type.Number({ minimum: 0, description: 'accuracy, metres' })),
}, Strict);

export const TrackList = Type.Object({
  from: Ms,
  to: Ms,
  tracks: Type.Array(Type.Object({
    deviceId: Id,
    truncated: Type.Boolean({ description: 'more points in the range than the limit: these are the newest' }),
    points: Type.Array(TrackPoint, { description: 'oldest first' }),
  }, Strict)),
}, { $id: 'TrackList', ...Strict });

export const Geofence = Type.Object({
  deviceId: Id,
  id: Id,
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lon: Type.Number({ minimum: -180, maximum: 180 }),
  radiusM: Type.Number({ minimum: 0 }),
  source: lit(['visit', 'geofence']),
  visitId: Type.Optional(Id),
  since: Ms,
  requestId: Id,
  status: Type.String({ description: 'the command\'s status: ok (the device applied it) or pending' }),
}, { $id: 'Geofence', ...Strict });

export const GeofenceList = Type.Object({ geofences: Type.Array(Geofence) }, { $id: 'GeofenceList', ...Strict });

// ---- commands

export const COMMAND_STATUSES = ['pending', 'ok', 'error', 'refused', 'expired', 'unknown'] as const;

export const SentCommand = Type.Object({
  requestId: Id,
  deviceId: Id,
  name: Type.String(),
  args: Type.Record(Type.String(), Type.Unknown()),
  by: Type.Optional(Type.String({ description: 'the token name that sent it' })),
  sentAt: Ms,
  expiresAt: Ms,
  status: lit(COMMAND_STATUSES),
  reason: Type.Optional(Type.String()),
  result: Type.Optional(Type.Unknown()),
  answeredAt: Type.Optional(Ms),
}, { $id: 'SentCommand', description: 'A command the platform sent, and the device\'s answer (status pending until it comes).', ...Strict });

export const CommandList = Type.Object({ commands: Type.Array(SentCommand) }, { $id: 'CommandList', ...Strict });

export const MAX_COMMAND_TTL_MS = 86_400_000;
export const MAX_WAIT_MS = 30_000;

export const CommandBody = Type.Object({
  name: Type.String({ pattern: '^[a-z][a-z0-9.]{0,63}$', description: 'the command; see the device command list (protocol/commands.ts)' }),
  args: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the command\'s arguments, checked against its schema' })),
  ttlMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: MAX_COMMAND_TTL_MS, description: 'the device refuses it after this long (default 60 s)' })),
}, Strict);

// ---- who am I

export const Me = Type.Object({
  tokenId: Type.String(),
  name: Type.String(),
  role: Role,
  expiresAt: Type.Optional(Ms),
}, { $id: 'Me', ...Strict });

// ---- the live stream

export const STREAM_EVENTS = ['hello', 'position', 'alarm', 'device', 'health', 'reset'] as const;
export type StreamEventName = (typeof STREAM_EVENTS)[number];

export const StreamHello = Type.Object({ now: Ms, silenceMs: Type.Integer(), resumed: Type.Boolean({ description: 'every event after Last-Event-ID follows (false: reload the state, then follow)' }) }, { $id: 'StreamHello', ...Strict });
export const StreamPosition = Type.Object({ deviceId: Id, position: Position }, { $id: 'StreamPosition', ...Strict });
export const StreamDevice = Type.Object({
  deviceId: Id,
  status: lit(['online', 'offline']),
  offlineCause: Type.Optional(lit(OFFLINE_CAUSES)),
  lastSeen: Type.Optional(Ms),
  presence: Type.Optional(Presence),
}, { $id: 'StreamDevice', description: 'A device went online or offline (will, shutdown, silence) or came back.', ...Strict });
export const StreamHealth = Type.Object({ deviceId: Id, health: HealthSummary }, { $id: 'StreamHealth', ...Strict });
export const StreamReset = Type.Object({ reason: Type.String() }, { $id: 'StreamReset', ...Strict });

/** The data of each stream event, by its SSE `event:` name. `alarm` carries an Alarm. */
export const STREAM_EVENT_SCHEMAS: Record<StreamEventName, TSchema> = {
  hello: StreamHello, position: StreamPosition, alarm: Alarm, device: StreamDevice, health: StreamHealth, reset: StreamReset,
};

