import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { POSITION_MEDIA_TYPES, ROUTES } from '../../../protocol/api.js';
import { apiDevice, apiPosition, healthSummary } from '../device-state.js';
import { toCsv, toGeoJson, toGpx } from '../position-export.js';
import { notFound, route, timeRange, type ApiContext } from '../route-kit.js';

type DeviceParams = Static<typeof ROUTES.device.params>;

/** Devices with their state, positions over a range in four formats, health history. */
export function deviceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ROUTES.devices, async () => {
    const now = ctx.now();
    const devices = await ctx.store.devices();
    return { now, silenceMs: ctx.silenceMs, devices: devices.map((d) => apiDevice(d, now, ctx.silenceMs)) };
  });

  route(app, ROUTES.device, async (req) => {
    const { deviceId } = req.params as DeviceParams;
    const now = ctx.now();
    const d = await ctx.store.device(deviceId);
    if (d === undefined) throw notFound(`no device "${deviceId}": it has never sent anything and has no registered key`);
    return { now, silenceMs: ctx.silenceMs, device: apiDevice(d, now, ctx.silenceMs) };
  });

  route(app, ROUTES.positions, async (req, reply) => {
    const { deviceId } = req.params as DeviceParams;
    const q = req.query as Static<typeof ROUTES.positions.query>;
    const range = timeRange(q);
    const limit = q.limit ?? 1000;
    if ((await ctx.store.device(deviceId)) === undefined) throw notFound(`no device "${deviceId}"`);
    const positions = await ctx.store.positions(deviceId, { ...range, limit });
    const format = q.format ?? 'json';
    if (format === 'json') {
      return { deviceId, ...range, limit, count: positions.length, truncated: positions.length === limit, positions: positions.map(apiPosition) };
    }
    const stamp = new Date(range.from ?? positions[0]?.fixTime ?? ctx.now()).toISOString().slice(0, 10);
    reply.header('content-disposition', `attachment; filename="${deviceId}-${stamp}.${format === 'geojson' ? 'geojson' : format}"`);
    reply.header('x-nrec-truncated', String(positions.length === limit));
    reply.type(`${POSITION_MEDIA_TYPES[format]}; charset=utf-8`);
    if (format === 'gpx') return toGpx(deviceId, positions, ctx.now());
    if (format === 'csv') return toCsv(positions);
    return JSON.stringify(toGeoJson(positions));
  });

  route(app, ROUTES.events, async (req) => {
    const q = req.query as Static<typeof ROUTES.events.query>;
    const range = timeRange(q);
    const rank = { info: 0, warning: 1, critical: 2 } as const;
    const min = rank[q.severity ?? 'info'];
    const now = ctx.now();
    const events = (await ctx.store.events({ ...range, ...(q.deviceId !== undefined ? { deviceId: q.deviceId } : {}), limit: 5000, order: 'desc' }))
      .filter((e) => rank[e.severity] >= min)
      .slice(0, q.limit ?? 200)
      .map((e) => ({ ...e, ageMs: now - e.rx }));
    return { now, events };
  });

  route(app, ROUTES.health, async (req) => {
    const { deviceId } = req.params as DeviceParams;
    const q = req.query as Static<typeof ROUTES.health.query>;
    const range = timeRange(q);
    if ((await ctx.store.device(deviceId)) === undefined) throw notFound(`no device "${deviceId}"`);
    const now = ctx.now();
    const reports = await ctx.store.health(deviceId, { ...range, limit: q.limit ?? 1000, order: 'desc' });
    return { deviceId, now, reports: reports.map((h) => healthSummary(h, now)) };
  });
}
