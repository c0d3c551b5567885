import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROUTES, type Geofence } from '../../../protocol/api.js';
import { activeGeofences } from '../geofences.js';
import { route, timeRange, type ApiContext } from '../route-kit.js';

/** A live map shows the last hour by default. */
const TRACK_MS = 3_600_000;

/** What the operator console reads beside the rest of the API: its settings, every device's track in one request, the geofences in force. */
export function consoleRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ROUTES.consoleSettings, async () => {
    const names = Object.fromEntries(ctx.deviceNames());
    return { ...(ctx.tiles !== undefined ? { tiles: ctx.tiles } : {}), names, silenceMs: ctx.silenceMs };
  });

  route(app, ROUTES.tracks, async (req) => {
    const q = req.query as Static<typeof ROUTES.tracks.query>;
    const r = timeRange(q);
    const now = ctx.now();
    // A device clock a little ahead still lands in the default range.
    const to = r.to ?? Math.max(now + 60_000, (r.from ?? 0) + 1);
    const from = r.from ?? Math.min(now, to) - TRACK_MS;
    const limit = q.limit ?? 1000;
    const tracks = [];
    for (const d of await ctx.store.devices()) {
      // Newest first with the limit, so a truncated track keeps its recent end.
      const ps = await ctx.store.positions(d.id, { from, to, limit, order: 'desc' });
      if (ps.length === 0) continue;
      const points = ps.reverse().map((p) => (p.accuracyM !== undefined ? { t: p.fixTime, lat: p.lat, lon: p.lon, acc: p.accuracyM } : { t: p.fixTime, lat: p.lat, lon: p.lon }));
      tracks.push({ deviceId: d.id, truncated: ps.length === limit, points });
    }
    return { from, to, tracks };
  });

  route(app, ROUTES.geofences, async () => {
    const geofences: Array<Static<typeof Geofence>> = [];
    for (const d of await ctx.store.devices()) geofences.push(...activeGeofences(d.id, await ctx.commands.list(d.id, { limit: 500 })));
    return { geofences };
  });
}
