import { Type, type TSchema } from '@sinclair/typebox';

/** Identifier pattern shared by ids and topic levels. */
export const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'identifier: 1-64 of [A-Za-z0-9_-]' });

/** Where a timestamp came from: the synchronized system clock, GPS time, or an unsynchronized system clock. */
export const ClockSource = Type.Union([Type.Literal('system'), Type.Literal('gps'), Type.Literal('unsynced')]);

/**
 * Fields every message carries. `id` makes delivery idempotent at the ingest;
 * `bootId` + `seq` (monotonic per stream per boot) let the platform see gaps.
 */
export const envelopeFields = {
  v: Type.Literal(1, { description: 'schema version' }),
  id: Id,
  deviceId: Id,
  bootId: Id,
  seq: Type.Integer({ minimum: 0, description: 'monotonic per stream per boot' }),
  ts: Type.Integer({ minimum: 0, description: 'epoch milliseconds' }),
  clock: Type.Optional(ClockSource),
};

/** Builds a message schema: envelope fields plus the message's own. */
export function message<P extends Record<string, TSchema>>(name: string, description: string, props: P) {
  return Type.Object({ ...envelopeFields, ...props }, { $id: name, title: name, description, additionalProperties: false });
}
