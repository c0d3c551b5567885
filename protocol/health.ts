import { Type, type Static } from '@sinclair/typebox';
import { envelopeFields, message } from './envelope.js';

/** Why a health report was sent: at agent start, on the interval, on a significant change, or on request. */
export const HealthTrigger = Type.Union(['start', 'interval', 'change', 'request'].map((s) => Type.Literal(s)));
export type HealthTrigger = Static<typeof HealthTrigger>;

/** The kernel's power_supply `status`, lower-cased with spaces as dashes. */
export const BatteryStatus = Type.Union(['charging', 'discharging', 'full', 'not-charging', 'unknown'].map((s) => Type.Literal(s)));
export type BatteryStatus = Static<typeof BatteryStatus>;

export const BatteryHealth = Type.Object(
  {
    pct: Type.Number({ minimum: 0, maximum: 100, description: 'state of charge (power_supply capacity)' }),
    status: BatteryStatus,
    voltageV: Type.Optional(Type.Number({ minimum: 0 })),
    currentA: Type.Optional(Type.Number({ description: 'as the driver reports it; the sign convention varies by driver' })),
    tempC: Type.Optional(Type.Number()),
    onExternalPower: Type.Optional(Type.Boolean({ description: 'a mains/USB supply reports online; absent when the device exposes none' })),
  },
  { additionalProperties: false },
);
export type BatteryHealth = Static<typeof BatteryHealth>;

export const StorageHealth = Type.Object(
  {
    freeBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'available to the agent on the filesystem holding the data directory; absent when it could not be read' })),
    usedBytes: Type.Integer({ minimum: 0, description: 'bytes of the files under the data directory' }),
    quotaBytes: Type.Integer({ minimum: 0, description: 'what the data directory may use' }),
  },
  { additionalProperties: false },
);
export type StorageHealth = Static<typeof StorageHealth>;

export const QueueHealth = Type.Object(
  {
    count: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
    oldestAgeMs: Type.Optional(Type.Integer({ minimum: 0, description: 'age of the oldest unacknowledged message; absent when the lane is empty' })),
  },
  { additionalProperties: false },
);
export type QueueHealth = Static<typeof QueueHealth>;

export const Health = message('health', 'Device heartbeat: battery, storage, temperature, clock, outbox queues and module states. Sent on an interval and early on a significant change.', {
  trigger: HealthTrigger,
  changed: Type.Optional(Type.Array(Type.String({ maxLength: 96 }), { maxItems: 64, description: 'what changed significantly, e.g. battery.level, clock.synced, state.gps' })),
  battery: Type.Optional(BatteryHealth),
  storage: StorageHealth,
  cpuTempC: Type.Optional(Type.Number()),
  uptimeS: Type.Number({ minimum: 0, description: 'system uptime' }),
  agentUptimeS: Type.Optional(Type.Number({ minimum: 0, description: 'agent process uptime' })),
  clockSynced: Type.Boolean({ description: 'the system clock is synchronized (NTP)' }),
  queues: Type.Record(Type.String({ pattern: '^[a-z]{1,32}$' }), QueueHealth, { description: 'outbox depth per lane', additionalProperties: false }),
  link: Type.Optional(Type.String({ maxLength: 64 })),
  states: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.Unknown(), { description: 'named module states (gps, button, recorder, ...)', additionalProperties: false }),
});
export type Health = Static<typeof Health>;

/** What a module hands the transport: the message without its envelope (the transport stamps that). */
export type HealthBody = Omit<Health, keyof typeof envelopeFields>;
