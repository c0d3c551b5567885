import type { TSchema } from '@sinclair/typebox';
import { Alarm, CommandRequest, CommandResult, Event, IngestAck, Location, LocationBatch, PlatformStatus, Status } from './messages.js';
import { Health } from './health.js';
import { ChunkHeader, MediaManifest } from './media.js';
import type { DeviceStream, InboundKind } from './topics.js';
import { Validator } from './validate.js';

/** One JSON channel: which schema its payloads follow and which lane carries it on the device. */
export interface ChannelSpec {
  readonly address: string;
  readonly schema: TSchema;
  readonly retained?: boolean;
  readonly description: string;
}

/** Every JSON message schema, by name (the published JSON Schema files). */
export const SCHEMAS = { Status, Health, ChunkHeader, MediaManifest, Location, LocationBatch, Alarm, Event, CommandRequest, CommandResult, IngestAck, PlatformStatus } as const;

/** JSON schemas of the device streams that carry JSON (media parts are binary; see media.ts). */
export const DEVICE_CHANNELS: Partial<Record<DeviceStream, ChannelSpec>> = {
  status: { address: 'status', schema: Status, retained: true, description: 'Retained birth and last will.' },
  health: { address: 'health', schema: Health, description: 'Device heartbeat: battery, storage, temperature, clock, queues, module states.' },
  event: { address: 'event', schema: Event, description: 'Storage, link and fault events.' },
  location: { address: 'location', schema: Location, description: 'Positions, live and backfilled.' },
  alarm: { address: 'alarm', schema: Alarm, description: 'SOS alarms and their lifecycle.' },
  result: { address: 'result', schema: CommandResult, description: 'Command results.' },
};

export const INBOUND_CHANNELS: Record<InboundKind, ChannelSpec> = {
  req: { address: 'cmd/req', schema: CommandRequest, description: 'Command requests for the device.' },
  ack: { address: 'cmd/ack', schema: IngestAck, description: 'Ingest acknowledgements.' },
};

/** Sub-channels below a stream that carry a different schema. */
export const SUB_CHANNELS: Record<string, ChannelSpec> = {
  'location/batch': { address: 'location/batch', schema: LocationBatch, description: 'Backfilled locations, batched.' },
  'media/chunk': { address: 'media/chunk', schema: ChunkHeader, description: 'Header of an evidence chunk: its signed chain link and part layout. Acknowledged by the ingest (cmd/ack) once the whole chunk is verified and stored.' },
  'media/manifest': { address: 'media/manifest', schema: MediaManifest, description: 'Signed manifest closing a recording session: chunks, gaps, alarms. Acknowledged by the ingest.' },
};

const subValidators = new Map<string, Validator<TSchema>>();

/** The validator for a stream's sub-channel (e.g. location/batch), if it has its own schema. */
export function validatorForSub(stream: DeviceStream, sub: string): Validator<TSchema> | undefined {
  const key = `${stream}/${sub}`;
  let v = subValidators.get(key);
  const spec = SUB_CHANNELS[key];
  if (v === undefined && spec !== undefined) {
    v = new Validator(spec.schema);
    subValidators.set(key, v);
  }
  return v;
}

const deviceValidators = new Map<DeviceStream, Validator<TSchema>>();
const inboundValidators = new Map<InboundKind, Validator<TSchema>>();

/** The compiled validator for a device stream, or undefined when the stream is not JSON. */
export function validatorForStream(stream: DeviceStream): Validator<TSchema> | undefined {
  let v = deviceValidators.get(stream);
  const spec = DEVICE_CHANNELS[stream];
  if (v === undefined && spec !== undefined) {
    v = new Validator(spec.schema);
    deviceValidators.set(stream, v);
  }
  return v;
}

/** The compiled validator for what the platform sends a device. */
export function validatorForInbound(kind: InboundKind): Validator<TSchema> {
  let v = inboundValidators.get(kind);
  if (v === undefined) {
    v = new Validator(INBOUND_CHANNELS[kind].schema);
    inboundValidators.set(kind, v);
  }
  return v;
}
