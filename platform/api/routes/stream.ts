import type { ServerResponse } from 'node:http';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROUTES, STREAM_EVENTS, type StreamEventName } from '../../../protocol/api.js';
import { ApiError, route, type ApiContext } from '../route-kit.js';
import type { HubEvent } from '../stream-hub.js';

/** A client that stops reading is dropped once this much is waiting for it (it reconnects and resumes). */
const MAX_BUFFERED_BYTES = 1 << 20;
const KEEPALIVE_MS = 15_000;

interface Client {
  tokenId: string;
  res: ServerResponse;
  close(reason: string): void;
}

/**
 * GET /api/stream: Server-Sent Events. Chosen over WebSocket because the
 * stream only flows one way, EventSource reconnects and resumes
 * (Last-Event-ID) by itself, and it passes plain HTTP proxies.
 */
export function streamRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const clients = new Set<Client>();

  app.addHook('preClose', async () => {
    for (const c of [...clients]) c.close('server shutting down');
  });

  route(app, ROUTES.stream, async (req, reply) => {
    const auth = req.auth!;
    const q = req.query as Static<typeof ROUTES.stream.query>;
    let types: Set<StreamEventName> | undefined;
    if (q.types !== undefined) {
      const asked = q.types.split(',');
      const unknown = asked.filter((t) => !(STREAM_EVENTS as readonly string[]).includes(t));
      if (unknown.length > 0) throw new ApiError(400, 'invalid', `types: unknown event ${unknown.join(', ')}; the stream has ${STREAM_EVENTS.join(', ')}`);
      types = new Set([...asked as StreamEventName[], 'hello', 'reset']);
    }
    if (clients.size >= ctx.maxStreams) throw new ApiError(429, 'rate-limited', `${clients.size} streams are open, the most this server keeps`, { retryAfterS: 30 });
    const mine = [...clients].filter((c) => c.tokenId === auth.tokenId).length;
    if (mine >= ctx.maxStreamsPerToken) throw new ApiError(429, 'rate-limited', `token "${auth.name}" has ${mine} streams open, the most one token may`, { retryAfterS: 30 });

    const lastEventId = req.headers['last-event-id'];
    const replay = typeof lastEventId === 'string' ? ctx.hub.replay(lastEventId) : undefined;

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx and friends buffer responses unless told not to.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.flushHeaders();

    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    const client: Client = {
      tokenId: auth.tokenId,
      res,
      close: (reason: string) => {
        if (closed) return;
        closed = true;
        unsubscribe();
        for (const t of timers) clearInterval(t);
        clients.delete(client);
        ctx.logger.debug({ token: auth.name, reason }, 'stream closed');
        if (!res.writableEnded) res.end();
      },
    };
    const write = (chunk: string) => {
      if (closed) return;
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        ctx.logger.warn({ token: auth.name, bufferedBytes: res.writableLength }, 'stream client is not reading; dropped (it will reconnect and resume)');
        res.destroy();
        client.close('slow client');
      }
    };
    const send = (e: HubEvent) => {
      if (types === undefined || types.has(e.event)) write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    };
    const plain = (event: StreamEventName, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

    // Subscribed before the replay is written: both are synchronous, so nothing falls between them.
    const unsubscribe = ctx.hub.subscribe(send);
    clients.add(client);
    res.on('close', () => client.close('client went away'));
    write('retry: 3000\n\n');
    plain('hello', { now: ctx.now(), silenceMs: ctx.silenceMs, resumed: replay !== undefined });
    if (typeof lastEventId === 'string' && replay === undefined) plain('reset', { reason: `cannot resume after ${lastEventId} (the server restarted or it is too old): reload the state, then follow` });
    for (const e of replay ?? []) send(e);

    timers.push(setInterval(() => write(': keepalive\n\n'), KEEPALIVE_MS));
    timers.push(setInterval(() => {
      ctx.auth.stillValid(auth).then((ok) => {
        if (ok) return;
        plain('reset', { reason: 'the token was revoked or has expired' });
        client.close('token no longer valid');
      }, (err: Error) => ctx.logger.debug({ err: err.message }, 'stream token re-check failed; trying again later'));
    }, ctx.streamRecheckMs));
    for (const t of timers) t.unref();
    return reply;
  });
}
