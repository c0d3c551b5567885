import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fastifyPath, type ApiRoute } from '../../protocol/api.js';
import type { Logger } from '../../lib/logger.js';
import type { AlarmDeskApi, CommandSenderApi } from '../desk/types.js';
import type { ApiRole, PlatformStore } from '../store/index.js';
import type { AuthContext, Authenticator } from './auth.js';
import type { StreamHub } from './stream-hub.js';
import { parseTime } from './time-params.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every request that reaches a handler. */
    auth?: AuthContext;
  }
  interface FastifyContextConfig {
    /** The lowest role the route allows (from the route table). */
    role?: ApiRole;
    operationId?: string;
    /** The console's static files: answered without a token (they hold no data). */
    public?: boolean;
  }
}

/** What the route handlers work with. */
export interface ApiContext {
  store: PlatformStore;
  desk: AlarmDeskApi;
  commands: CommandSenderApi;
  hub: StreamHub;
  auth: Authenticator;
  logger: Logger;
  now: () => number;
  silenceMs: number;
  maxStreams: number;
  maxStreamsPerToken: number;
  streamRecheckMs: number;
  /** Device public keys the ingest verifies against (<store>/keys). */
  keysDir: string | undefined;
  /** The wearers' names (contacts file): device id → name. */
  deviceNames: () => Map<string, string>;
  /** The console's map tile source; undefined: a plain background. */
  tiles: TileSource | undefined;
}

export interface TileSource {
  /** OSM-style template: {z}/{x}/{y}, optionally {s} (subdomains a, b, c). */
  url: string;
  attribution: string;
  maxZoom: number;
}

/** An answer other than 2xx, with the code a client branches on and a message for a person. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly devices: string[] | undefined;
  readonly retryAfterS: number | undefined;

  constructor(statusCode: number, code: string, message: string, extra: { devices?: string[]; retryAfterS?: number } = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
    this.devices = extra.devices;
    this.retryAfterS = extra.retryAfterS;
  }
}

export const notFound = (message: string) => new ApiError(404, 'not-found', message);

const NO_QUERY = Type.Object({}, { additionalProperties: false });

/** Registers a route from the table: method, path, schemas for validation, its role. */
export function route(app: FastifyInstance, r: ApiRoute, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void {
  const schema: Record<string, unknown> = {};
  if (r.params !== undefined) schema.params = r.params;
  // A route without parameters refuses any (a typo'd parameter is an error, not silently ignored).
  schema.querystring = r.query ?? NO_QUERY;
  if (r.body !== undefined) schema.body = r.body;
  app.route({
    method: r.method,
    url: fastifyPath(r.path),
    schema,
    config: { role: r.role, operationId: r.operationId },
    // A body whose fields are all optional may be left out entirely (POST …/ack with nothing to say).
    ...(r.body !== undefined && (r.body.required ?? []).length === 0
      ? { preValidation: async (req: FastifyRequest) => { if (req.body === undefined || req.body === null) req.body = {}; } }
      : {}),
    handler,
  });
}

/** from/to query parameters as epoch ms; 400 naming the parameter when one is not a time or they are the wrong way round. */
export function timeRange(q: { from?: string; to?: string }): { from?: number; to?: number } {
  const out: { from?: number; to?: number } = {};
  for (const k of ['from', 'to'] as const) {
    const v = q[k];
    if (v === undefined) continue;
    const t = parseTime(v);
    if (!t.ok) throw new ApiError(400, 'invalid', `${k}: ${t.reason}`);
    out[k] = t.ms;
  }
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to) throw new ApiError(400, 'invalid', `from (${new Date(out.from).toISOString()}) must be before to (${new Date(out.to).toISOString()})`);
  return out;
}
