import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../../lib/logger.js';
import type { AlarmDeskApi, CommandSenderApi } from '../desk/types.js';
import { StoreError, type PlatformStore } from '../store/index.js';
import { Authenticator } from './auth.js';
import { DEFAULT_SILENCE_MS } from './device-state.js';
import { RateLimiter } from './rate-limit.js';
import { ConsoleFiles, defaultConsoleDir, serveConsole } from './console-files.js';
import { ApiError, type ApiContext, type TileSource } from './route-kit.js';
import { alarmRoutes } from './routes/alarms.js';
import { commandRoutes } from './routes/commands.js';
import { consoleRoutes } from './routes/console.js';
import { deviceRoutes } from './routes/devices.js';
import { evidenceRoutes } from './routes/evidence.js';
import { metaRoutes } from './routes/meta.js';
import { streamRoutes } from './routes/stream.js';
import { visitRoutes } from './routes/visits.js';
import type { StreamHub } from './stream-hub.js';
import { roleAllows } from './tokens.js';

export interface ApiDeps {
  store: PlatformStore;
  desk: AlarmDeskApi;
  commands: CommandSenderApi;
  hub: StreamHub;
  logger: Logger;
  /** Device public keys the ingest verifies evidence against (<store>/keys); the store's registered keys otherwise. */
  keysDir?: string;
  /** The wearers' names, from the contacts file: device id → name. */
  deviceNames?: () => Map<string, string>;
  now?: () => number;
}

/** OpenStreetMap's standard tiles: the default tile source (their usage policy asks for light use; run your own for a control room). */
export const DEFAULT_TILES: TileSource = {
  url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
  attribution: '© OpenStreetMap contributors',
  maxZoom: 19,
};

export interface ApiOptions {
  /** A device silent for longer is offline (default 2 min). */
  silenceMs?: number;
  /** Largest request body (default 16 KiB: the biggest legitimate one is a config.set patch). */
  bodyLimitBytes?: number;
  /** Requests per token (default 600 a minute, bursts of 120). */
  perToken?: { perMinute: number; burst: number };
  /** Failed authentications per client address before it is refused outright (default 10 a minute, bursts of 10). */
  authFailures?: { perMinute: number; burst: number };
  /** Open streams in all (default 200) and per token (default 10). */
  maxStreams?: number;
  maxStreamsPerToken?: number;
  /** How often an open stream re-checks its token (default 30 s): revoked or expired, the stream ends. */
  streamRecheckMs?: number;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy only). */
  trustProxy?: boolean;
  /** The console's map tiles (default OpenStreetMap's); null: none, the map draws on a plain background. */
  tiles?: TileSource | null;
  /** Where the built console is (default <repo>/dist/console). */
  consoleDir?: string;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The URL safe to log: an access_token in the query is the token itself. */
export function loggableUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

function send(reply: FastifyReply, status: number, code: string, message: string, extra: { devices?: string[]; retryAfterS?: number } = {}): FastifyReply {
  if (extra.retryAfterS !== undefined) reply.header('retry-after', String(extra.retryAfterS));
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ?? 'Error';
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="nrec"');
  return reply.code(status).type('application/json; charset=utf-8').send({ statusCode: status, error: reason, code, message, ...(extra.devices !== undefined ? { devices: extra.devices } : {}) });
}

/**
 * The platform's HTTP API on Fastify. Every request is authenticated in
 * onRequest, before its body is read: no token, a bad one or too low a role
 * is answered there, so an unauthenticated or oversized request never reaches
 * a handler or the store's data. Then the body limit, the schemas from
 * protocol/api.ts, and the handlers.
 */
export function buildApi(deps: ApiDeps, o: ApiOptions = {}): FastifyInstance {
  const now = deps.now ?? Date.now;
  const logger = deps.logger;
  const bodyLimit = o.bodyLimitBytes ?? 16 * 1024;
  const failures = new RateLimiter({ ...(o.authFailures ?? { perMinute: 10, burst: 10 }), now });
  const perToken = new RateLimiter({ ...(o.perToken ?? { perMinute: 600, burst: 120 }), now });
  const ctx: ApiContext = {
    store: deps.store, desk: deps.desk, commands: deps.commands, hub: deps.hub, logger, now,
    auth: new Authenticator({ tokens: deps.store, failures, logger, now }),
    silenceMs: o.silenceMs ?? DEFAULT_SILENCE_MS,
    maxStreams: o.maxStreams ?? 200,
    maxStreamsPerToken: o.maxStreamsPerToken ?? 10,
    streamRecheckMs: o.streamRecheckMs ?? 30_000,
    keysDir: deps.keysDir,
    deviceNames: deps.deviceNames ?? (() => new Map()),
    tiles: o.tiles === null ? undefined : (o.tiles ?? DEFAULT_TILES),
  };
  const consoleFiles = new ConsoleFiles(o.consoleDir ?? defaultConsoleDir());
  if (!consoleFiles.built) logger.warn({ dir: consoleFiles.dir }, 'the operator console is not built: /console/ answers 503 until npm run build has made it');

  const app = Fastify({
    // Fastify logs nothing itself (its request lines would carry ?access_token=): onResponse below logs, redacted.
    logger: false,
    bodyLimit,
    trustProxy: o.trustProxy ?? false,
    forceCloseConnections: true,
    return503OnClosing: true,
    requestTimeout: 30_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  // JSON only: a text/plain body is refused as such (415) rather than failing its schema.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    if (req.routeOptions.config.public === true) return;
    const header = req.headers.authorization;
    let presented: string | undefined;
    if (header !== undefined) {
      const m = BEARER.exec(header);
      if (m === null) return send(reply, 401, 'unauthorized', 'the Authorization header must be "Bearer <token>"');
      presented = m[1];
    } else if (req.routeOptions.config.operationId === 'stream') {
      // EventSource cannot send headers: the stream alone takes the token from the query (and it is never logged).
      const q = req.query as { access_token?: unknown };
      if (typeof q.access_token === 'string') presented = q.access_token;
    }
    const a = await ctx.auth.authenticate(presented, req.ip);
    if (!a.ok) return send(reply, a.status, a.code, a.message, { retryAfterS: a.retryAfterS });
    req.auth = a.auth;
    const need = req.routeOptions.config.role;
    if (need !== undefined && !roleAllows(a.auth.role, need)) {
      return send(reply, 403, 'forbidden', `this needs the ${need} role; token "${a.auth.name}" is ${a.auth.role}`);
    }
    const r = perToken.take(a.auth.tokenId);
    if (!r.ok) return send(reply, 429, 'rate-limited', `token "${a.auth.name}" sent too many requests`, { retryAfterS: r.retryAfterS });
  });

  app.addHook('onResponse', async (req, reply) => {
    const fields = { method: req.method, url: loggableUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime), token: req.auth?.name, client: req.ip };
    if (reply.statusCode === 401 || reply.statusCode === 403) logger.info(fields, 'api request refused');
    else logger.debug(fields, 'api request');
  });

  app.setNotFoundHandler(async (req, reply) => send(reply, 404, 'not-found', `no endpoint ${req.method} ${loggableUrl(req.url).split('?')[0]}; see GET /api/openapi.json`));

  app.setErrorHandler(async (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) return send(reply, err.statusCode, err.code, err.message, { devices: err.devices, retryAfterS: err.retryAfterS });
    if (err.validation !== undefined) return send(reply, 400, 'invalid', err.message);
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE': return send(reply, 413, 'too-large', `the body is larger than ${bodyLimit} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return send(reply, 415, 'unsupported-media-type', 'send the body as JSON (Content-Type: application/json)');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY': return send(reply, 400, 'invalid', 'the body is empty but Content-Type says JSON: send {} or no Content-Type');
      case 'FST_ERR_CTP_INVALID_JSON_BODY': return send(reply, 400, 'invalid', `the body is not JSON: ${err.message}`);
      default: break;
    }
    if (err instanceof StoreError) {
      logger.error({ err: err.message, kind: err.kind, url: loggableUrl(req.url) }, 'api: the store failed');
      return send(reply, 503, 'unavailable', `the store is unavailable (${err.kind}); try again shortly`, { retryAfterS: 5 });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return send(reply, err.statusCode, 'invalid', err.message);
    logger.error({ err: err.message, stack: err.stack, method: req.method, url: loggableUrl(req.url) }, 'api: internal error');
    return send(reply, 500, 'internal', 'internal error; the platform log has the details');
  });

  metaRoutes(app, ctx);
  deviceRoutes(app, ctx);
  alarmRoutes(app, ctx);
  visitRoutes(app, ctx);
  commandRoutes(app, ctx);
  evidenceRoutes(app, ctx);
  consoleRoutes(app, ctx);
  streamRoutes(app, ctx);
  serveConsole(app, consoleFiles, ctx.tiles?.url);
  return app;
}

/** The API listening on HOST:PORT; `url` is where it answers. */
export class ApiServer {
  readonly app: FastifyInstance;
  readonly url: string;

  private constructor(app: FastifyInstance, url: string) {
    this.app = app;
    this.url = url;
  }

  static async start(deps: ApiDeps, o: ApiOptions & { host: string; port: number }): Promise<ApiServer> {
    const app = buildApi(deps, o);
    try {
      await app.listen({ host: o.host, port: o.port });
    } catch (err) {
      await app.close().catch(() => undefined);
      const e = err as NodeJS.ErrnoException;
      throw new Error(`the API cannot listen on ${o.host}:${o.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : e.message}`, { cause: err });
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : o.port;
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    return new ApiServer(app, `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`);
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}
