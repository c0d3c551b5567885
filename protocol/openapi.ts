import type { TSchema } from '@sinclair/typebox';
import { ApiError, ROUTES, STREAM_EVENT_SCHEMAS, type ApiRoute } from './api.js';

/*
 * The OpenAPI 3.1 document of the platform API, generated from the route
 * table in api.ts (published as protocol/published/openapi.json; a test
 * checks it is current and well formed). Schemas with an $id are hoisted to
 * components.schemas and referenced, so each appears once.
 */

type Json = Record<string, unknown>;

/** TypeBox's symbol keys dropped: plain JSON Schema 2020-12. */
const toJsonSchema = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;

class Components {
  readonly schemas: Record<string, Json> = {};

  /** The schema as plain JSON Schema with every $id'd part (itself included) replaced by a $ref. */
  ref(schema: TSchema): Json {
    return this.#walk(toJsonSchema(schema)) as Json;
  }

  #walk(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.#walk(x));
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Json;
    const out: Json = {};
    for (const [k, x] of Object.entries(o)) if (k !== '$id') out[k] = this.#walk(x);
    const id = o.$id;
    if (typeof id !== 'string') return out;
    const known = this.schemas[id];
    if (known !== undefined && JSON.stringify(known) !== JSON.stringify(out)) throw new Error(`two different schemas are both named "${id}"`);
    this.schemas[id] = out;
    return { $ref: `#/components/schemas/${id}` };
  }
}

const ERRORS: Record<number, string> = {
  400: 'the request is malformed: a parameter or the body does not match its schema (the message names the field)',
  401: 'no token, or a token that is malformed, unknown, revoked or expired',
  403: 'the token\'s role is too low for this',
  404: 'no such device, alarm, visit or command',
  409: 'the alarm id is used by several devices: give ?deviceId= (the answer names them); for an evidence chunk: its file no longer matches its signed hash (rejected)',
  413: 'the body is larger than the limit',
  415: 'the body is not sent as application/json',
  429: 'too many requests (or failed authentications) from this client: retry after Retry-After seconds',
  503: 'the store or the broker is unavailable: retry after Retry-After seconds',
};

function errorCodes(r: ApiRoute): number[] {
  const codes = [401, 403, 429, 503];
  if (r.params !== undefined || r.query !== undefined || r.body !== undefined) codes.push(400);
  if (r.params !== undefined) codes.push(404);
  if (['getAlarm', 'acknowledgeAlarm', 'resolveAlarm', 'getChunk'].includes(r.operationId)) codes.push(409);
  if (r.body !== undefined) codes.push(413, 415);
  return codes.sort();
}

function parameters(c: Components, r: ApiRoute): Json[] {
  const out: Json[] = [];
  for (const [where, obj] of [['path', r.params], ['query', r.query]] as const) {
    if (obj === undefined) continue;
    const required = new Set(obj.required ?? []);
    for (const [name, schema] of Object.entries(obj.properties)) {
      const s = c.ref(schema);
      const { description, ...rest } = s;
      out.push({ name, in: where, required: where === 'path' || required.has(name), ...(typeof description === 'string' ? { description } : {}), schema: rest });
    }
  }
  return out;
}

function operation(c: Components, r: ApiRoute): Json {
  const responses: Json = {};
  for (const [code, resp] of Object.entries(r.responses)) {
    const content: Json = {};
    if (resp.schema !== undefined) content['application/json'] = { schema: c.ref(resp.schema) };
    for (const [type, schema] of Object.entries(resp.content ?? {})) content[type] = { schema: c.ref(schema) };
    responses[code] = { description: resp.description, content };
  }
  const error = c.ref(ApiError);
  for (const code of errorCodes(r)) responses[String(code)] = { description: ERRORS[code], content: { 'application/json': { schema: error } } };
  const op: Json = {
    operationId: r.operationId,
    tags: r.tags,
    summary: r.summary,
    ...(r.description !== undefined ? { description: r.description } : {}),
    'x-nrec-role': r.role,
  };
  const params = parameters(c, r);
  if (params.length > 0) op.parameters = params;
  if (r.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: c.ref(r.body) } } };
  op.responses = responses;
  if (r.operationId === 'stream') op.security = [{ bearer: [] }, { accessTokenQuery: [] }];
  return op;
}

/** The OpenAPI 3.1 document of the platform's HTTP API. */
export function openApiDocument(): Json {
  const c = new Components();
  const paths: Record<string, Json> = {};
  for (const r of Object.values(ROUTES) as ApiRoute[]) {
    paths[r.path] ??= {};
    paths[r.path][r.method.toLowerCase()] = operation(c, r);
  }
  // The stream's event payloads, by event name, so clients can generate types for them too.
  for (const schema of Object.values(STREAM_EVENT_SCHEMAS)) c.ref(schema);
  return {
    openapi: '3.1.0',
    info: {
      title: 'nrec platform API',
      version: '1.0.0',
      description:
        'Devices and their state, positions (JSON, GeoJSON, GPX, CSV), alarms with the alarm desk\'s state and acknowledgement, visits with verified evidence, commands to devices, and a live stream. '
        + 'Every endpoint needs a bearer token (`nrec token create`); roles: viewer < operator < admin (x-nrec-role names the lowest allowed).',
    },
    tags: [
      { name: 'auth', description: 'The token in use and this document' },
      { name: 'devices', description: 'Devices, positions, health' },
      { name: 'alarms', description: 'The alarm desk' },
      { name: 'visits', description: 'Recording sessions and their evidence' },
      { name: 'commands', description: 'Commands to devices and their results' },
      { name: 'console', description: 'What the operator console reads beside the rest: settings, every track, geofences' },
      { name: 'stream', description: 'Server-Sent Events' },
    ],
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: c.schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'nrec_<16 hex id>_<43 base64url>', description: 'Authorization: Bearer <token>' },
        accessTokenQuery: { type: 'apiKey', in: 'query', name: 'access_token', description: 'only for GET /api/stream (EventSource cannot send headers)' },
      },
    },
  };
}
