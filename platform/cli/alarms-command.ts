import type { DeskAlarm } from '../desk/types.js';
import { parseTime } from '../api/time-params.js';
import { API_OPTIONS, UsageError, ago, apiCall, apiFrom, isoOrEmpty, parse, runCommand, table } from './cli-kit.js';
import { ALARMS_HELP as HELP } from './help.js';


export { HELP };

function printAlarms(alarms: DeskAlarm[], now: number): void {
  process.stdout.write(table(['ALARM', 'DEVICE', 'STATE', 'DEVICE STATE', 'RAISED', 'AGE', 'RESENDS', 'BY', 'LAST FIX'], alarms.map((a) => [
    a.alarmId, a.deviceId, a.state, a.deviceState, isoOrEmpty(a.raisedAt), ago(now - a.raisedAt), a.resends, a.acknowledgedBy ?? a.resolvedBy,
    a.lastFix === undefined ? '' : `${a.lastFix.lat.toFixed(5)},${a.lastFix.lon.toFixed(5)} (${ago(now - a.lastFix.time)} ago${a.lastFix.accuracyM !== undefined ? `, ±${Math.round(a.lastFix.accuracyM)} m` : ''})`,
  ])));
}

/** `nrec alarms list|ack|resolve`. */
export async function main(argv: string[]): Promise<number> {
  return runCommand('alarms', HELP, async () => {
    const { values, positionals } = parse(argv, {
      ...API_OPTIONS, open: { type: 'boolean', default: false }, device: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean', default: false },
      by: { type: 'string' }, note: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const [sub, alarmId, extra] = positionals;
    if (sub !== 'list' && sub !== 'ack' && sub !== 'resolve') throw new UsageError(sub === undefined ? 'say list, ack or resolve' : `unknown subcommand "${sub}": list, ack or resolve`);
    const device = values.device === undefined ? '' : `?deviceId=${encodeURIComponent(values.device)}`;
    if (sub === 'list') {
      if (alarmId !== undefined) throw new UsageError(`unexpected argument "${alarmId}"`);
      const q = new URLSearchParams();
      if (values.open) q.set('open', 'true');
      if (values.device !== undefined) q.set('deviceId', values.device);
      if (values.since !== undefined) {
        const t = parseTime(values.since, { spans: true });
        if (!t.ok) throw new UsageError(`--since: ${t.reason}`);
        q.set('from', String(t.ms));
      }
      const api = await apiFrom(values);
      const { body } = await apiCall<{ alarms: DeskAlarm[] }>(api, 'GET', `/api/alarms${q.size > 0 ? `?${q}` : ''}`);
      if (values.json) process.stdout.write(`${JSON.stringify(body.alarms)}\n`);
      else printAlarms(body.alarms, Date.now());
      return 0;
    }
    if (alarmId === undefined) throw new UsageError(`${sub} needs the alarm id`);
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    if (sub === 'resolve' && (values.note === undefined || values.note.trim() === '')) throw new UsageError('resolve needs --note TEXT (what happened)');
    const api = await apiFrom(values);
    const path = `/api/alarms/${encodeURIComponent(alarmId)}/${sub}${device}`;
    const { body } = await apiCall<{ already: boolean; alarm: DeskAlarm }>(api, 'POST', path, {
      ...(values.by !== undefined ? { by: values.by } : {}), ...(sub === 'resolve' ? { note: values.note } : {}),
    });
    const a = body.alarm;
    if (values.json) process.stdout.write(`${JSON.stringify(body)}\n`);
    else if (sub === 'ack') {
      process.stdout.write(body.already
        ? `alarm ${a.alarmId} of ${a.deviceId} was already ${a.state}${a.acknowledgedBy !== undefined ? ` by ${a.acknowledgedBy}` : ''}\n`
        : `alarm ${a.alarmId} of ${a.deviceId} acknowledged by ${a.acknowledgedBy}; alarm.ack sent to the device${a.ackCommand !== undefined ? ` (request ${a.ackCommand.requestId})` : ''}\n`);
    } else {
      process.stdout.write(body.already ? `alarm ${a.alarmId} of ${a.deviceId} was already resolved\n` : `alarm ${a.alarmId} of ${a.deviceId} resolved by ${a.resolvedBy}\n`);
    }
    return 0;
  });
}
