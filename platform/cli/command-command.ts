import { checkCommand, isValidId } from '../../protocol/index.js';
import type { SentCommand } from '../desk/types.js';
import { API_OPTIONS, Failure, UsageError, apiCall, apiFrom, parse, runCommand } from './cli-kit.js';
import { COMMAND_HELP as HELP } from './help.js';


export { HELP };

/** `nrec command DEVICE NAME [ARGS]`. */
export async function main(argv: string[]): Promise<number> {
  return runCommand('command', HELP, async () => {
    const { values, positionals } = parse(argv, {
      ...API_OPTIONS, wait: { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const [deviceId, name, argsJson, extra] = positionals;
    if (deviceId === undefined || name === undefined) throw new UsageError('give the device and the command');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" (the arguments are one JSON object)`);
    if (!isValidId(deviceId)) throw new UsageError(`device id "${deviceId}" is not valid: 1-64 of [A-Za-z0-9_-]`);
    let args: Record<string, unknown> = {};
    if (argsJson !== undefined) {
      try {
        args = JSON.parse(argsJson) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`ARGS_JSON is not JSON: ${(err as Error).message}`);
      }
      if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new UsageError('ARGS_JSON must be a JSON object');
    }
    // The API checks again; checking here makes the mistake a usage error without a round trip.
    const check = checkCommand(name, args);
    if (!check.ok) throw new UsageError(check.errors.join('; '));
    const wait = values.wait === undefined ? 10 : Number(values.wait);
    if (!(wait >= 0 && wait <= 30)) throw new UsageError(`--wait "${values.wait}" must be 0 to 30 seconds`);
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1 && ttl <= 86_400)) throw new UsageError(`--ttl "${values.ttl}" must be 1 to 86400 seconds`);
    const api = await apiFrom(values);
    const { status, body: c } = await apiCall<SentCommand>(api, 'POST', `/api/devices/${encodeURIComponent(deviceId)}/commands${wait > 0 ? `?wait=${Math.round(wait * 1000)}` : ''}`, {
      name, args, ...(ttl !== undefined ? { ttlMs: ttl * 1000 } : {}),
    });
    if (values.json) process.stdout.write(`${JSON.stringify(c)}\n`);
    if (c.status === 'pending') {
      if (!values.json) process.stdout.write(`sent ${name} to ${deviceId} (request ${c.requestId})${wait > 0 ? `; no answer within ${wait} s` : ''}\n`);
      if (wait > 0) throw new Failure(`no answer from ${deviceId} within ${wait} s; the command stays recorded (GET /api/commands/${c.requestId})`);
      return status === 202 ? 0 : 1;
    }
    if (!values.json) {
      process.stdout.write(`${deviceId} answered ${name}: ${c.status}${c.reason !== undefined ? ` (${c.reason})` : ''}\n`);
      if (c.result !== undefined) process.stdout.write(`${JSON.stringify(c.result, null, 2)}\n`);
    }
    if (c.status !== 'ok') throw new Failure(`${name} ${c.status}${c.reason !== undefined ? `: ${c.reason}` : ''}`);
    return 0;
  });
}
