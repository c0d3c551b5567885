import type { TSchema } from '@sinclair/typebox';
import { PLATFORM_STATUS_TOPIC, PROTOCOL_VERSION, RESERVED_DEVICE_IDS, TOPIC_ROOT } from './topics.js';
import { PlatformStatus } from './messages.js';
import { openApiDocument } from './openapi.js';
import { DEVICE_CHANNELS, INBOUND_CHANNELS, SCHEMAS, SUB_CHANNELS, type ChannelSpec } from './registry.js';

/** Strips TypeBox's symbol keys and returns plain JSON Schema (draft 2020-12 compatible subset). */
export function toJsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

/** The published JSON Schema files: file name → content. */
export function jsonSchemaFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const schema of Object.values(SCHEMAS)) {
    const id = String(schema.$id);
    const doc = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...toJsonSchema(schema) };
    out[`${id}.schema.json`] = `${JSON.stringify(doc, null, 2)}\n`;
  }
  return out;
}

/** The deviceId topic parameter: an id that cannot collide with the platform store's own folders. */
const DEVICE_ID_PARAMETER = { description: `device identifier, [A-Za-z0-9_-]{1,64}, not starting with "_" and none of ${RESERVED_DEVICE_IDS.join(', ')} in any case` };

function channelEntry(key: string, spec: ChannelSpec) {
  const messageName = String(spec.schema.$id);
  return {
    [key]: {
      address: `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/{deviceId}/${spec.address}`,
      description: spec.description + (spec.retained === true ? ' Retained.' : ''),
      parameters: { deviceId: DEVICE_ID_PARAMETER },
      messages: { [messageName]: { $ref: `#/components/messages/${messageName}` } },
    },
  };
}

/** The AsyncAPI 3 document describing every topic, as seen from the device. */
export function asyncApiDocument(): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  const add = (key: string, spec: ChannelSpec, action: 'send' | 'receive') => {
    const name = String(spec.schema.$id);
    Object.assign(channels, channelEntry(key, spec));
    operations[`${action}-${key}`] = {
      action,
      channel: { $ref: `#/channels/${key}` },
      messages: [{ $ref: `#/channels/${key}/messages/${name}` }],
    };
    messages[name] = { name, contentType: 'application/json', payload: { $ref: `#/components/schemas/${name}` } };
    const { $id: _id, ...rest } = toJsonSchema(spec.schema);
    schemas[name] = rest;
  };
  for (const [stream, spec] of Object.entries(DEVICE_CHANNELS)) if (spec) add(stream, spec, 'send');
  for (const [key, spec] of Object.entries(SUB_CHANNELS)) add(key.replace('/', '-'), spec, 'send');
  // Media parts are binary (no base64): 'NRP1' | u16 BE header length | JSON part header | raw chunk bytes.
  channels['media-part'] = {
    address: `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/{deviceId}/media/part`,
    description: 'Binary evidence parts, paced on their own connection. Framing: "NRP1", u16 big-endian header length, JSON media-part-header, raw bytes.',
    parameters: { deviceId: DEVICE_ID_PARAMETER },
    messages: { 'media-part': { $ref: '#/components/messages/media-part' } },
  };
  operations['send-media-part'] = { action: 'send', channel: { $ref: '#/channels/media-part' }, messages: [{ $ref: '#/channels/media-part/messages/media-part' }] };
  messages['media-part'] = { name: 'media-part', contentType: 'application/octet-stream', payload: { type: 'string', format: 'binary' } };
  for (const [kind, spec] of Object.entries(INBOUND_CHANNELS)) add(`cmd-${kind}`, spec, 'receive');
  channels['platform-status'] = {
    address: PLATFORM_STATUS_TOPIC,
    description: `${String(PlatformStatus.description)} Retained. On "online" the device re-sends what waits for the platform's confirmation.`,
    messages: { 'platform-status': { $ref: '#/components/messages/platform-status' } },
  };
  operations['receive-platform-status'] = { action: 'receive', channel: { $ref: '#/channels/platform-status' }, messages: [{ $ref: '#/channels/platform-status/messages/platform-status' }] };
  messages['platform-status'] = { name: 'platform-status', contentType: 'application/json', payload: { $ref: '#/components/schemas/platform-status' } };
  {
    const { $id: _id, ...rest } = toJsonSchema(PlatformStatus);
    schemas['platform-status'] = rest;
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'nrec device protocol',
      version: `${PROTOCOL_VERSION}.0.0`,
      description:
        'What a nursing recorder publishes and receives over MQTT (3.1.1 required, 5.0 optional). ' +
        'Every JSON message carries v, id, deviceId, bootId, seq and ts. A device publishes only under its own prefix.',
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages, schemas },
  };
}

/** Every published file (relative to protocol/published/) with its exact content. */
export function publishedFiles(): Record<string, string> {
  return {
    ...jsonSchemaFiles(),
    'asyncapi.json': `${JSON.stringify(asyncApiDocument(), null, 2)}\n`,
    'openapi.json': `${JSON.stringify(openApiDocument(), null, 2)}\n`,
  };
}
