import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { Id } from './envelope.js';
import { Health } from './health.js';
import { Manifest } from './media.js';
import { Fix } from './messages.js';

/*
 * The platform's HTTP API: every request and response schema and the route
 * table. The API registers its routes from this table (validation of
 * params, query and body), the OpenAPI document (protocol/openapi.ts) is
 * generated from it, and the API's tests check every JSON answer against the
 * response schema documented here. Schemas with an $id become named
 * components of the document.
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

// ---- parameters

/** A time: epoch ms, or ISO 8601 (2026-01-05, 2026-01-05T08:00:00Z, with an offset or fraction). */
export const TimeParam = Type.String({
  pattern: '^(-?\\d{1,15}|\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})?)?)$',
  description: 'epoch ms or ISO 8601 (a date alone is midnight UTC)',
});
const Limit = Type.Integer({ minimum: 1, maximum: 100_000, description: 'at most this many (default 1000)' });
const DeviceParams = Type.Object({ deviceId: Id }, Strict);
const AlarmParams = Type.Object({ alarmId: Id }, Strict);
const WhichDevice = Type.Object({ deviceId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'the device, when two devices used the same alarm id' })) }, Strict);

export const POSITION_FORMATS = ['json', 'geojson', 'gpx', 'csv'] as const;
export type PositionFormat = (typeof POSITION_FORMATS)[number];
export const POSITION_MEDIA_TYPES: Record<PositionFormat, string> = {
  json: 'application/json', geojson: 'application/geo+json', gpx: 'application/gpx+xml', csv: 'text/csv',
};

// ---- the route table

export interface ApiResponse {
  description: string;
  /** application/json schema. */
  schema?: TSchema;
  /** Other media types. */
  content?: Record<string, TSchema>;
}

export interface ApiRoute {
  operationId: string;
  method: 'GET' | 'POST';
  /** OpenAPI style: /api/alarms/{alarmId} */
  path: string;
  /** The lowest role allowed (viewer < operator < admin). */
  role: ApiRoleName;
  tags: string[];
  summary: string;
  description?: string;
  params?: TObject;
  query?: TObject;
  body?: TObject;
  /** Success responses; the errors every route can give (400, 401, 403, 404, 413, 429) are added to the document. */
  responses: Record<number, ApiResponse>;
}

export const ROUTES = {
  me: {
    operationId: 'me', method: 'GET', path: '/api/me', role: 'viewer', tags: ['auth'],
    summary: 'The token in use: its name and role (what the console may show)',
    responses: { 200: { description: 'the token', schema: Me } },
  },
  openapi: {
    operationId: 'openapi', method: 'GET', path: '/api/openapi.json', role: 'viewer', tags: ['auth'],
    summary: 'This document',
    responses: { 200: { description: 'the OpenAPI 3.1 document', content: { 'application/json': Type.Object({}, { additionalProperties: true }) } } },
  },
  devices: {
    operationId: 'listDevices', method: 'GET', path: '/api/devices', role: 'viewer', tags: ['devices'],
    summary: 'Every device with its online state, last seen, last position and last health',
    responses: { 200: { description: 'the devices, by id', schema: DeviceList } },
  },
  device: {
    operationId: 'getDevice', method: 'GET', path: '/api/devices/{deviceId}', role: 'viewer', tags: ['devices'],
    summary: 'One device', params: DeviceParams,
    responses: { 200: { description: 'the device', schema: DeviceDetail } },
  },
  positions: {
    operationId: 'listPositions', method: 'GET', path: '/api/devices/{deviceId}/positions', role: 'viewer', tags: ['devices'],
    summary: 'Positions of a device over a time range (by fix time) as JSON, GeoJSON, GPX 1.1 or CSV',
    description: 'Oldest first. `format` picks the representation (default json); gpx, csv and geojson come as a download (Content-Disposition).',
    params: DeviceParams,
    query: Type.Object({
      from: Type.Optional(TimeParam),
      to: Type.Optional(TimeParam),
      limit: Type.Optional(Limit),
      format: Type.Optional(lit(POSITION_FORMATS)),
    }, Strict),
    responses: {
      200: {
        description: 'the positions',
        schema: PositionList,
        content: {
          'application/geo+json': Type.Object({ type: Type.Literal('FeatureCollection'), features: Type.Array(Type.Object({}, { additionalProperties: true })) }, { description: 'one Point feature per position; properties hold the other fields' }),
          'application/gpx+xml': Type.String({ description: 'GPX 1.1: one track, one segment; speed, course, accuracy and nrec fields under <extensions> (namespace https://nrec.invalid/gpx/1)' }),
          'text/csv': Type.String({ description: 'RFC 4180, header row; times as ISO 8601 UTC and epoch ms' }),
        },
      },
    },
  },
  health: {
    operationId: 'listHealth', method: 'GET', path: '/api/devices/{deviceId}/health', role: 'viewer', tags: ['devices'],
    summary: 'Health reports of a device over a time range (by device time), newest first',
    params: DeviceParams,
    query: Type.Object({ from: Type.Optional(TimeParam), to: Type.Optional(TimeParam), limit: Type.Optional(Limit) }, Strict),
    responses: { 200: { description: 'the reports', schema: HealthList } },
  },
  alarms: {
    operationId: 'listAlarms', method: 'GET', path: '/api/alarms', role: 'viewer', tags: ['alarms'],
    summary: 'Alarms with their desk state, history and notification attempts',
    query: Type.Object({
      open: Type.Optional(Type.Boolean({ description: 'only alarms not yet resolved or cancelled' })),
      deviceId: Type.Optional(Id),
      from: Type.Optional(TimeParam),
      to: Type.Optional(TimeParam),
    }, Strict),
    responses: { 200: { description: 'the alarms', schema: AlarmList } },
  },
  alarm: {
    operationId: 'getAlarm', method: 'GET', path: '/api/alarms/{alarmId}', role: 'viewer', tags: ['alarms'],
    summary: 'One alarm', description: 'Alarm ids are chosen by devices: when two devices used the same id, give ?deviceId= (409 names them).',
    params: AlarmParams, query: WhichDevice,
    responses: { 200: { description: 'the alarm', schema: Alarm } },
  },
  ack: {
    operationId: 'acknowledgeAlarm', method: 'POST', path: '/api/alarms/{alarmId}/ack', role: 'operator', tags: ['alarms'],
    summary: 'Acknowledge an alarm: records who, stops the escalation, sends alarm.ack to the device',
    description: 'Who is the token\'s name, or "<by> via <token name>" when the body names a person. Twice is harmless (200, already: true).',
    params: AlarmParams, query: WhichDevice,
    body: Type.Object({ by: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the person, when the token is shared' })) }, Strict),
    responses: { 200: { description: 'acknowledged (or already)', schema: AlarmAction } },
  },
  resolve: {
    operationId: 'resolveAlarm', method: 'POST', path: '/api/alarms/{alarmId}/resolve', role: 'operator', tags: ['alarms'],
    summary: 'Resolve an alarm with a note; sends alarm.resolve to the device',
    params: AlarmParams, query: WhichDevice,
    body: Type.Object({
      note: Type.String({ minLength: 1, maxLength: 2000, description: 'what happened' }),
      by: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    }, Strict),
    responses: { 200: { description: 'resolved (or already)', schema: AlarmAction } },
  },
  visits: {
    operationId: 'listVisits', method: 'GET', path: '/api/visits', role: 'viewer', tags: ['visits'],
    summary: 'Visits (recording sessions) overlapping a time range, of one device or all, with their chunks and verification state',
    query: Type.Object({ deviceId: Type.Optional(Id), from: Type.Optional(TimeParam), to: Type.Optional(TimeParam), limit: Type.Optional(Limit) }, Strict),
    responses: { 200: { description: 'the visits', schema: VisitList } },
  },
  visit: {
    operationId: 'getVisit', method: 'GET', path: '/api/devices/{deviceId}/visits/{sessionId}', role: 'viewer', tags: ['visits'],
    summary: 'One visit with its chunks and manifest',
    params: Type.Object({ deviceId: Id, sessionId: Id }, Strict),
    responses: { 200: { description: 'the visit', schema: Visit } },
  },
  sendCommand: {
    operationId: 'sendCommand', method: 'POST', path: '/api/devices/{deviceId}/commands', role: 'operator', tags: ['commands'],
    summary: 'Send a command to a device (validated; some need the admin role), optionally waiting for its result',
    description: 'Operators may send ping, locate, record.start/stop, visit.start/end, geofence.set/clear; config.get, config.set, update.install and alarm.raise need admin. alarm.ack and alarm.resolve go through the alarm endpoints, which record who. `wait` (ms, at most 30000) waits for the device\'s answer: 200 when it came, 202 (status pending) otherwise.',
    params: DeviceParams,
    query: Type.Object({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS })) }, Strict),
    body: CommandBody,
    responses: {
      200: { description: 'sent, and the device answered within `wait`', schema: SentCommand },
      202: { description: 'sent (recorded and published); the answer follows', schema: SentCommand },
    },
  },
  listCommands: {
    operationId: 'listCommands', method: 'GET', path: '/api/devices/{deviceId}/commands', role: 'viewer', tags: ['commands'],
    summary: 'Commands sent to a device, newest first, with their results',
    params: DeviceParams, query: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, Strict),
    responses: { 200: { description: 'the commands', schema: CommandList } },
  },
  command: {
    operationId: 'getCommand', method: 'GET', path: '/api/commands/{requestId}', role: 'viewer', tags: ['commands'],
    summary: 'One command with the device\'s result',
    params: Type.Object({ requestId: Id }, Strict),
    responses: { 200: { description: 'the command', schema: SentCommand } },
  },
  stream: {
    operationId: 'stream', method: 'GET', path: '/api/stream', role: 'viewer', tags: ['stream'],
    summary: 'Live stream (Server-Sent Events) of positions, alarms and device state',
    description: 'Events: hello (first), position, alarm (every change the alarm desk reports), device (online/offline), health, reset (the stream cannot resume: reload). '
      + 'Each event has an id; a reconnecting EventSource sends Last-Event-ID and gets what it missed while the server still holds it (hello.resumed says whether it did). '
      + 'The token may be given as ?access_token= because EventSource cannot set headers; it is never logged. `types` limits the events (comma-separated).',
    query: Type.Object({
      types: Type.Optional(Type.String({ pattern: '^[a-z]+(,[a-z]+)*$', maxLength: 64 })),
      access_token: Type.Optional(Type.String({ maxLength: 128, description: 'the bearer token, for EventSource' })),
    }, Strict),
    responses: { 200: { description: 'the event stream (never ends by itself)', content: { 'text/event-stream': Type.String() } } },
  },
} as const satisfies Record<string, ApiRoute>;

export type RouteName = keyof typeof ROUTES;

/** A route's path for Fastify (/api/alarms/:alarmId). */
export function fastifyPath(path: string): string {
  return path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}
