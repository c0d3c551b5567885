import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROUTES } from '../../../protocol/api.js';
import { checkCommand, isDeviceCommand } from '../../../protocol/index.js';
import { COMMAND_ROLES } from '../command-policy.js';
import { ApiError, notFound, route, type ApiContext } from '../route-kit.js';
import { roleAllows } from '../tokens.js';

export function commandRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ROUTES.sendCommand, async (req, reply) => {
    const { deviceId } = req.params as Static<typeof ROUTES.sendCommand.params>;
    const { wait } = req.query as Static<typeof ROUTES.sendCommand.query>;
    const body = req.body as Static<typeof ROUTES.sendCommand.body>;
    const auth = req.auth!;
    const check = checkCommand(body.name, body.args);
    // An unknown name first, then the role, then the arguments: an operator learns that config.set needs admin before how to fill it in.
    if (!isDeviceCommand(body.name)) throw new ApiError(400, 'invalid', check.ok ? `unknown command "${body.name}"` : check.errors.join('; '));
    const need = COMMAND_ROLES[body.name];
    if (need === 'desk') throw new ApiError(403, 'desk-only', `${body.name} is sent by the alarm desk: use POST /api/alarms/{alarmId}/${body.name === 'alarm.ack' ? 'ack' : 'resolve'}, which records who`);
    if (!roleAllows(auth.role, need)) throw new ApiError(403, 'forbidden', `${body.name} needs the ${need} role; token "${auth.name}" is ${auth.role}`);
    if (!check.ok) throw new ApiError(400, 'invalid', check.errors.join('; '));
    if ((await ctx.store.device(deviceId)) === undefined) throw notFound(`no device "${deviceId}": it has never connected`);
    let sent;
    try {
      sent = await ctx.commands.send(deviceId, body.name, body.args ?? {}, { by: auth.name, ...(body.ttlMs !== undefined ? { ttlMs: body.ttlMs } : {}) });
    } catch (err) {
      ctx.logger.error({ deviceId, command: body.name, err: (err as Error).message }, 'command not sent');
      throw new ApiError(503, 'unavailable', `the command could not be sent: ${(err as Error).message}`, { retryAfterS: 5 });
    }
    ctx.logger.info({ deviceId, command: body.name, requestId: sent.requestId, by: auth.name }, 'command sent');
    if (wait !== undefined && wait > 0) {
      const answered = await ctx.commands.waitForResult(sent.requestId, wait);
      if (answered !== undefined) return answered;
      reply.code(202);
      return (await ctx.commands.get(sent.requestId)) ?? sent;
    }
    reply.code(202);
    return sent;
  });

  route(app, ROUTES.listCommands, async (req) => {
    const { deviceId } = req.params as Static<typeof ROUTES.listCommands.params>;
    const { limit } = req.query as Static<typeof ROUTES.listCommands.query>;
    return { commands: await ctx.commands.list(deviceId, { limit: limit ?? 100 }) };
  });

  route(app, ROUTES.command, async (req) => {
    const { requestId } = req.params as Static<typeof ROUTES.command.params>;
    const c = await ctx.commands.get(requestId);
    if (c === undefined) throw notFound(`no command "${requestId}" was sent by this platform`);
    return c;
  });
}
