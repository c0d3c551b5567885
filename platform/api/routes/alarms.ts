import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROUTES } from '../../../protocol/api.js';
import type { DeskActionResult } from '../../desk/types.js';
import { ApiError, route, timeRange, type ApiContext } from '../route-kit.js';

type AlarmParams = Static<typeof ROUTES.alarm.params>;
type WhichDevice = Static<typeof ROUTES.alarm.query>;

/**
 * Alarm ids are chosen by devices, so two devices may use the same one: the
 * device is taken from ?deviceId=, or found when exactly one device has an
 * alarm with that id.
 */
async function whichDevice(ctx: ApiContext, alarmId: string, deviceId: string | undefined): Promise<string> {
  if (deviceId !== undefined) return deviceId;
  const found = await ctx.store.findAlarms(alarmId);
  if (found.length === 0) throw new ApiError(404, 'unknown-alarm', `no alarm "${alarmId}" has been received from any device`);
  if (found.length > 1) {
    const devices = found.map((a) => a.deviceId);
    throw new ApiError(409, 'ambiguous-alarm', `alarm id "${alarmId}" is used by ${devices.length} devices (${devices.join(', ')}): give ?deviceId=`, { devices });
  }
  return found[0].deviceId;
}

function outcome(r: DeskActionResult) {
  if (r.ok) return { already: r.already, alarm: r.alarm };
  const status = { 'unknown-alarm': 404, 'ambiguous-alarm': 409, 'not-open': 409, invalid: 400 }[r.code];
  throw new ApiError(status, r.code, r.reason);
}

/** Who acts: the token's name, or the person the body names on a shared token (both are recorded). */
function actor(token: string, by: string | undefined): string {
  return by === undefined ? token : `${by} via ${token}`;
}

export function alarmRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ROUTES.alarms, async (req) => {
    const q = req.query as Static<typeof ROUTES.alarms.query>;
    const alarms = await ctx.desk.list({ ...timeRange(q), ...(q.open !== undefined ? { open: q.open } : {}), ...(q.deviceId !== undefined ? { deviceId: q.deviceId } : {}) });
    return { alarms };
  });

  route(app, ROUTES.alarm, async (req) => {
    const { alarmId } = req.params as AlarmParams;
    const deviceId = await whichDevice(ctx, alarmId, (req.query as WhichDevice).deviceId);
    const alarm = await ctx.desk.get(deviceId, alarmId);
    if (alarm === undefined) throw new ApiError(404, 'unknown-alarm', `no alarm "${alarmId}" from device "${deviceId}"`);
    return alarm;
  });

  route(app, ROUTES.ack, async (req) => {
    const { alarmId } = req.params as AlarmParams;
    const body = req.body as Static<typeof ROUTES.ack.body>;
    const deviceId = await whichDevice(ctx, alarmId, (req.query as WhichDevice).deviceId);
    const by = actor(req.auth!.name, body.by);
    const r = await ctx.desk.acknowledge(deviceId, alarmId, by);
    if (r.ok && !r.already) ctx.logger.warn({ deviceId, alarmId, by }, 'alarm acknowledged');
    return outcome(r);
  });

  route(app, ROUTES.resolve, async (req) => {
    const { alarmId } = req.params as AlarmParams;
    const body = req.body as Static<typeof ROUTES.resolve.body>;
    const deviceId = await whichDevice(ctx, alarmId, (req.query as WhichDevice).deviceId);
    const by = actor(req.auth!.name, body.by);
    const r = await ctx.desk.resolve(deviceId, alarmId, by, body.note);
    if (r.ok && !r.already) ctx.logger.info({ deviceId, alarmId, by }, 'alarm resolved');
    return outcome(r);
  });
}
