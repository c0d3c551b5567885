import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROUTES, type Visit } from '../../../protocol/api.js';
import type { VisitView } from '../../store/index.js';
import { notFound, route, timeRange, type ApiContext } from '../route-kit.js';

/** A visit as the API shows it: without the evidence store's file paths (the server's layout is nobody's business). */
function apiVisit(v: VisitView): Static<typeof Visit> {
  const { manifestPath: _m, chunks, ...rest } = v;
  return { ...rest, chunks: chunks.map(({ path: _p, ...c }) => c) };
}

export function visitRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ROUTES.visits, async (req) => {
    const q = req.query as Static<typeof ROUTES.visits.query>;
    const range = timeRange(q);
    const limit = q.limit ?? 1000;
    const ids = q.deviceId !== undefined ? [q.deviceId] : (await ctx.store.devices()).map((d) => d.id);
    const visits: VisitView[] = [];
    for (const id of ids) visits.push(...(await ctx.store.visits(id, { ...range, limit })));
    visits.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.deviceId.localeCompare(b.deviceId) || a.sessionId.localeCompare(b.sessionId));
    return { visits: visits.slice(0, limit).map(apiVisit) };
  });

  route(app, ROUTES.visit, async (req) => {
    const { deviceId, sessionId } = req.params as Static<typeof ROUTES.visit.params>;
    const v = await ctx.store.visit(deviceId, sessionId);
    if (v === undefined) throw notFound(`no visit (recording session) "${sessionId}" of device "${deviceId}"`);
    return apiVisit(v);
  });
}
