import { Type, type Static } from '@sinclair/typebox';
import { Id, message } from './envelope.js';

/** A position as the device knew it. */
export const Fix = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    time: Type.Integer({ minimum: 0, description: 'epoch ms of the fix (receiver time)' }),
    fixType: Type.Union(['none', '2d', '3d', 'dgps', 'rtk', 'estimated'].map((s) => Type.Literal(s))),
    altM: Type.Optional(Type.Number()),
    speedMps: Type.Optional(Type.Number({ minimum: 0 })),
    courseDeg: Type.Optional(Type.Number({ minimum: 0, maximum: 360 })),
    accuracyM: Type.Optional(Type.Number({ minimum: 0 })),
    hdop: Type.Optional(Type.Number({ minimum: 0 })),
    satsUsed: Type.Optional(Type.Integer({ minimum: 0 })),
    stale: Type.Optional(Type.Boolean({ description: 'true when this is the last known fix, not a current one' })),
    ageMs: Type.Optional(Type.Integer({ minimum: 0, description: 'age of the fix when reported' })),
  },
  { additionalProperties: false },
);
export type Fix = Static<typeof Fix>;

export const Status = message('status', 'Retained presence: birth on connect, last will on loss. Same bootId in both, so a stale will cannot overwrite a newer birth.', {
  state: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('shutdown')]),
  agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
  reason: Type.Optional(Type.String({ maxLength: 256 })),
});
export type Status = Static<typeof Status>;

export const Location = message('location', 'One reported position.', {
  fix: Fix,
  reason: Type.Optional(Type.Union(['first', 'interval', 'displacement', 'locate', 'burst'].map((s) => Type.Literal(s)), { description: 'why the policy reported now; fix.stale says whether it is the last known fix' })),
  backfill: Type.Optional(Type.Boolean({ description: 'queued while offline and sent late' })),
});
export type Location = Static<typeof Location>;

export const LocationBatch = Type.Object(
  {
    v: Type.Literal(1),
    deviceId: Id,
    backfill: Type.Boolean({ description: 'true: these locations queued while the device was offline' }),
    items: Type.Array(Location, { minItems: 1, maxItems: 500 }),
  },
  {
    $id: 'location-batch',
    title: 'location-batch',
    description: 'Locations that queued while offline, in order, sent together. The wrapper is built at send time; each item keeps its own envelope, so deduplication is per item.',
    additionalProperties: false,
  },
);
export type LocationBatch = Static<typeof LocationBatch>;

export const Alarm = message('alarm', 'SOS and its lifecycle. Re-sent with a rising escalation until acknowledged.', {
  alarmId: Id,
  state: Type.Union(['raised', 'acknowledged', 'cancelled', 'resolved'].map((s) => Type.Literal(s))),
  trigger: Type.Union(['button', 'command', 'test'].map((s) => Type.Literal(s))),
  raisedAt: Type.Integer({ minimum: 0 }),
  escalation: Type.Integer({ minimum: 0 }),
  fix: Type.Optional(Fix),
  batteryPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
});
export type Alarm = Static<typeof Alarm>;

export const Event = message('event', 'Something the platform should know: storage pressure, link or device state changes, faults.', {
  kind: Type.String({ pattern: '^[a-z][a-z0-9._-]{0,63}$', description: 'e.g. storage, gps.link, button.fault' }),
  severity: Type.Union(['info', 'warning', 'critical'].map((s) => Type.Literal(s))),
  message: Type.String({ maxLength: 1024 }),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type Event = Static<typeof Event>;

export const CommandRequest = message('command-request', 'A command for a device; `id` is the request id (repeats are answered from the stored result).', {
  name: Type.String({ pattern: '^[a-z][a-z0-9.]{0,63}$', description: 'command name, e.g. ping, config.set' }),
  expiresAt: Type.Integer({ minimum: 0, description: 'epoch ms after which the device refuses it' }),
  args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type CommandRequest = Static<typeof CommandRequest>;

export const CommandResult = message('command-result', 'The answer to a command request.', {
  requestId: Id,
  name: Type.String({ maxLength: 64 }),
  status: Type.Union(['ok', 'error', 'refused', 'expired', 'unknown'].map((s) => Type.Literal(s))),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  result: Type.Optional(Type.Unknown()),
  restartRequired: Type.Optional(Type.Boolean()),
});
export type CommandResult = Static<typeof CommandResult>;

/** Consecutive message ids `${prefix}-${first}` … `${prefix}-${last}` (a device's ids are bootId-stream-seq). */
export const IdRange = Type.Object(
  {
    prefix: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'the id without its trailing -seq' }),
    first: Type.Integer({ minimum: 0 }),
    last: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type IdRange = Static<typeof IdRange>;

export const IngestAck = message('ingest-ack', 'End-to-end confirmation: the platform has committed these messages to its store (or recorded them as rejected), so the device may forget them. Sent after the commit, in batches, per device.', {
  acked: Type.Optional(Type.Array(Id, { maxItems: 1000, description: 'ids stored (or already stored) one by one' })),
  ranges: Type.Optional(Type.Array(IdRange, { maxItems: 1000, description: 'runs of consecutive ids stored' })),
  rejected: Type.Optional(Type.Array(Type.Object({ id: Id, reason: Type.String({ maxLength: 512 }) }, { additionalProperties: false }), { maxItems: 1000, description: 'ids the platform refused and recorded as rejected: the device must not send them again' })),
});
export type IngestAck = Static<typeof IngestAck>;

/** Every id an acknowledgement confirms as stored, ranges expanded (bounded: a range of more than `max` ids is cut). */
export function ackedIds(a: Pick<IngestAck, 'acked' | 'ranges'>, max = 100_000): string[] {
  const out = [...(a.acked ?? [])];
  for (const r of a.ranges ?? []) {
    for (let n = r.first; n <= r.last && out.length < max; n++) out.push(`${r.prefix}-${n}`);
  }
  return out;
}

/**
 * The platform's presence, retained on PLATFORM_STATUS_TOPIC: each ingest worker publishes `online`
 * every time it has (re)connected and subscribed, and leaves `offline` as its will. A device that sees
 * `online` sends again at once whatever waits for a confirmation: a broker that restarted empty lost
 * it, and the ingest is now there to take it (no need to wait for the confirmation timeout).
 */
export const PlatformStatus = Type.Object(
  {
    v: Type.Literal(1),
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    bootId: Id,
    ts: Type.Integer({ minimum: 0 }),
  },
  { $id: 'platform-status', title: 'platform-status', description: 'Retained presence of the platform (its ingest workers): online after each (re)subscription, offline as the will.', additionalProperties: false },
);
export type PlatformStatus = Static<typeof PlatformStatus>;
