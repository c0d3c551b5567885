import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { Id } from './envelope.js';
import {
  Alarm, AlarmAction, AlarmList, CommandBody, CommandList, ConsoleSettings, DeviceDetail, DeviceList, EventList, GeofenceList, SEVERITIES, HealthList, MAX_WAIT_MS, Me,
  PositionList, SentCommand, TrackList, Visit, VisitCheck, VisitList, type ApiRoleName,
} from './api-schemas.js';

export * from './api-schemas.js';

/*
 * The platform's HTTP API: the route table. The API registers its routes
 * from it (validation of params, query and body), the OpenAPI document
 * (protocol/openapi.ts) is generated from it, and the API's tests check
 * every JSON answer against the response schema documented here.
 */

const lit = <const T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const Strict = { additionalProperties: false } as const;

// ---- parameters

/** A time: epoch ms, or ISO 8601 (2026-01-05, 2026-01-05T08:00:00Z, with an offset or fraction). */
export const TimeParam = Type.String({
  pattern: '^(-?\\d{1,15}|\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})?)?)$',
  description: 'epoch ms or ISO 8601 (a date alone is midnight UTC)',
});
const Limit = Type.Integer({ minimum: 1, maximum: 100_000, description: 'at most this many (default 1000)' });
const DeviceParams = Type.Object({ deviceId: Id }, Strict);
const AlarmParams = Type.Object({ alarmId: Id }, Strict);
const VisitParams = Type.Object({ deviceId: Id, sessionId: Id }, Strict);
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
  events: {
    operationId: 'listEvents', method: 'GET', path: '/api/events', role: 'viewer', tags: ['devices'],
    summary: 'What devices reported (faults, storage pressure, link changes), newest first, of one device or all',
    description: '`severity` keeps that severity and above (warning: warnings and critical ones). Of the newest 5000 events in the range, at most `limit` (default 200) that pass.',
    query: Type.Object({
      deviceId: Type.Optional(Id),
      from: Type.Optional(TimeParam),
      to: Type.Optional(TimeParam),
      severity: Type.Optional(lit(SEVERITIES)),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
    }, Strict),
    responses: { 200: { description: 'the events', schema: EventList } },
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
    params: VisitParams,
    responses: { 200: { description: 'the visit', schema: Visit } },
  },
  visitCheck: {
    operationId: 'checkVisit', method: 'GET', path: '/api/devices/{deviceId}/visits/{sessionId}/verification', role: 'viewer', tags: ['visits'],
    summary: 'Audit a visit\'s evidence files now: each chunk verified, missing or rejected with the reason',
    description: 'Reads the stored chunk files, chain and manifest and checks them as `nrec verify` does (bytes against the signed hash, chain links, signatures with the device key, manifest): what the store holds now, not what was checked at intake.',
    params: VisitParams,
    responses: { 200: { description: 'the audit', schema: VisitCheck } },
  },
  chunk: {
    operationId: 'getChunk', method: 'GET', path: '/api/devices/{deviceId}/visits/{sessionId}/chunks/{index}', role: 'operator', tags: ['visits'],
    summary: 'The bytes of one evidence chunk (MPEG-TS), only when they still match their signed hash',
    description: 'For playback. Operator, not viewer: evidence is video from patients\' homes, and viewer tokens are meant for wall screens. A chunk whose file no longer matches the hash the device signed is refused (409 `rejected`), a missing file is 404: the console never plays altered evidence.',
    params: Type.Object({ deviceId: Id, sessionId: Id, index: Type.Integer({ minimum: 0, maximum: 999_999 }) }, Strict),
    responses: { 200: { description: 'the chunk', content: { 'video/mp2t': Type.String({ description: 'MPEG-TS (H.264/AAC) as the device recorded it' }) } } },
  },
  bundle: {
    operationId: 'getBundle', method: 'GET', path: '/api/devices/{deviceId}/visits/{sessionId}/bundle', role: 'operator', tags: ['visits'],
    summary: 'The visit\'s evidence bundle (tar.gz): chunks, chain, manifest and the device\'s public key, for `nrec verify` offline',
    description: 'Unpacked, it is an evidence store of one session: `<device>-<session>/evidence/<device>/<session>/{chunk-NNNNNN.ts, chain.ndjson, manifest.json}` and `<device>-<session>/keys/<device>.pem`; `nrec verify <device>-<session>` audits it without the platform. Files are packed as stored: a tampered chunk is in the bundle, and verify names it.',
    params: VisitParams,
    responses: { 200: { description: 'the bundle', content: { 'application/gzip': Type.String({ description: 'a gzip-compressed POSIX tar archive' }) } } },
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
  consoleSettings: {
    operationId: 'consoleSettings', method: 'GET', path: '/api/console', role: 'viewer', tags: ['console'],
    summary: 'What the operator console needs: the map tile source and the nurses\' names',
    responses: { 200: { description: 'the settings', schema: ConsoleSettings } },
  },
  tracks: {
    operationId: 'listTracks', method: 'GET', path: '/api/tracks', role: 'viewer', tags: ['console'],
    summary: 'Every device\'s track over a time range (default: the last hour), newest points kept',
    description: 'One request for the live map instead of one per device. `limit` is per device (default 1000): with more points in the range, the newest are kept and `truncated` says so.',
    query: Type.Object({ from: Type.Optional(TimeParam), to: Type.Optional(TimeParam), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }, Strict),
    responses: { 200: { description: 'the tracks', schema: TrackList } },
  },
  geofences: {
    operationId: 'listGeofences', method: 'GET', path: '/api/geofences', role: 'viewer', tags: ['console'],
    summary: 'The geofences in force on each device (patient homes of visits in progress), from the commands sent',
    description: 'From each device\'s commands, oldest first: `visit.start` with a geofence until `visit.end`; `geofence.set` until `geofence.clear` of its id or of all. Commands the device refused, failed or let expire do not count; pending ones do (status says which).',
    responses: { 200: { description: 'the geofences', schema: GeofenceList } },
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
