import { Type, type TSchema } from '@sinclair/typebox';
import { Id } from './envelope.js';
import { Validator } from './validate.js';

/*
 * The commands a device understands and the arguments each takes: the
 * contract between whoever sends a command-request (the platform's API and
 * CLI) and the agent's handlers (agent/commands, alarm, gps, media, update).
 * The platform validates against these before anything is published, so a
 * malformed command is refused with the field named instead of travelling to
 * the device to come back as an error.
 */

const NoArgs = Type.Object({}, { additionalProperties: false });
const VisitId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'the visit: 1-64 of [A-Za-z0-9_-]' });
const Lat = Type.Number({ minimum: -90, maximum: 90 });
const Lon = Type.Number({ minimum: -180, maximum: 180 });

export interface CommandSpec {
  readonly summary: string;
  readonly args: TSchema;
}

export const DEVICE_COMMANDS = {
  ping: { summary: 'answers pong with the agent uptime', args: NoArgs },
  locate: { summary: 'publishes the current fix now (reason locate)', args: NoArgs },
  'config.get': { summary: 'the resolved agent configuration (paths to secrets, never secrets)', args: NoArgs },
  'config.set': {
    summary: 'merges a patch into the agent configuration; some keys apply live, the rest after a restart (restartRequired)',
    args: Type.Object({ patch: Type.Record(Type.String(), Type.Unknown(), { description: 'config fields to change, nested as in the file' }) }, { additionalProperties: false }),
  },
  'visit.start': {
    summary: 'starts a home visit: visit reporting rate, the patient-home geofence, evidence recording when the patient consented',
    args: Type.Object({
      visitId: VisitId,
      consent: Type.Boolean({ description: 'may the visit be recorded' }),
      geofence: Type.Optional(Type.Object({ lat: Lat, lon: Lon, radiusM: Type.Number({ minimum: 5, maximum: 100_000 }) }, { additionalProperties: false })),
    }, { additionalProperties: false }),
  },
  'visit.end': { summary: 'ends the visit: normal reporting, geofence cleared, recording stopped', args: NoArgs },
  'record.start': { summary: 'starts evidence recording for a visit', args: Type.Object({ visitId: VisitId }, { additionalProperties: false }) },
  'record.stop': { summary: 'stops evidence recording', args: NoArgs },
  'geofence.set': {
    summary: 'sets a circular geofence (a patient\'s home)',
    args: Type.Object({ id: Id, lat: Lat, lon: Lon, radiusM: Type.Number({ minimum: 5, maximum: 100_000 }) }, { additionalProperties: false }),
  },
  'geofence.clear': { summary: 'clears one geofence, or all', args: Type.Object({ id: Type.Optional(Id) }, { additionalProperties: false }) },
  'alarm.ack': { summary: 'the platform acknowledged the alarm: the device stops re-sending it', args: Type.Object({ alarmId: Id }, { additionalProperties: false }) },
  'alarm.resolve': { summary: 'the alarm is closed', args: Type.Object({ alarmId: Id }, { additionalProperties: false }) },
  'alarm.raise': { summary: 'raises an alarm as if the button was held (trigger command)', args: NoArgs },
  'update.install': {
    summary: 'downloads, checks and hands a signed bundle to the updater',
    args: Type.Object({
      url: Type.String({ pattern: '^https://', maxLength: 2048, description: 'https:// URL of the bundle' }),
      sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'the bundle\'s SHA-256' }),
    }, { additionalProperties: false }),
  },
} as const satisfies Record<string, CommandSpec>;

export type DeviceCommandName = keyof typeof DEVICE_COMMANDS;

export const DEVICE_COMMAND_NAMES = Object.keys(DEVICE_COMMANDS) as DeviceCommandName[];

export function isDeviceCommand(name: string): name is DeviceCommandName {
  return Object.hasOwn(DEVICE_COMMANDS, name);
}

const validators = new Map<string, Validator<TSchema>>();

/** Checks a command's name and arguments; errors name the field (args/visitId …) and the rule. */
export function checkCommand(name: string, args: unknown): { ok: true } | { ok: false; errors: string[] } {
  if (!isDeviceCommand(name)) return { ok: false, errors: [`unknown command "${name}"; devices understand ${DEVICE_COMMAND_NAMES.join(', ')}`] };
  let v = validators.get(name);
  if (v === undefined) {
    v = new Validator(Type.Object({ args: DEVICE_COMMANDS[name].args }, { title: name }));
    validators.set(name, v);
  }
  const r = v.check({ args: args ?? {} });
  return r.ok ? { ok: true } : { ok: false, errors: r.errors };
}
