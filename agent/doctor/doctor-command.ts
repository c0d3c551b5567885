import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { fail, pass, runCheck, type Check, type CheckResult, type DoctorContext } from './check.js';
import { buttonCheck, cameraCheck, gpsCheck } from './hardware-checks.js';
import { brokerCheck, outboxCheck } from './link-checks.js';
import { certificateCheck, clockCheck, diskCheck, ffmpegCheck, keyModesCheck, powerCheck, temperatureCheck } from './system-checks.js';
import { UsageError } from '../../lib/cli-args.js';


const CHECKS: Array<[string, string, Check]> = [
  ['gps', 'gps', gpsCheck],
  ['button', 'button', buttonCheck],
  ['camera', 'camera', cameraCheck],
  ['ffmpeg', 'camera', ffmpegCheck],
  ['tls.certificate', 'broker', certificateCheck],
  ['broker', 'broker', brokerCheck],
  ['clock', 'clock', clockCheck],
  ['disk', 'disk', diskCheck],
  ['power', 'power', powerCheck],
  ['temperature', 'power', temperatureCheck],
  ['keys', 'keys', keyModesCheck],
  ['outbox', 'outbox', outboxCheck],
];

const MARK = { pass: '✓', warn: '!', fail: '✗', skip: '-' } as const;

/** Runs every check; the config check first, the others with whatever config loaded. */
export async function runDoctor(configPath: string, opts: { nmeaWaitMs?: number; brokerTimeoutMs?: number } = {}): Promise<CheckResult[]> {
  let config: Config | undefined;
  const results: CheckResult[] = [];
  try {
    config = await loadConfig(configPath);
    results.push(pass('config', 'config', `${configPath} is valid (device ${config.deviceId})`));
  } catch (err) {
    const msg = (err as Error).message;
    results.push(fail('config', 'config', err instanceof ConfigError ? msg : `cannot load ${configPath}: ${msg}`, `edit ${configPath}: every option is described in docs/configuration.md; the sample is /opt/nrec/current/scripts/config/config.sample.json`));
  }
  const ctx: DoctorContext = { configPath, config, nmeaWaitMs: opts.nmeaWaitMs ?? 5000, brokerTimeoutMs: opts.brokerTimeoutMs ?? 10_000 };
  for (const [name, area, check] of CHECKS) results.push(...(await runCheck(name, area, check, ctx)));
  return results;
}

export async function main(argv: string[]): Promise<number> {
  let values: { config?: string; json?: boolean; 'nmea-wait'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, 'nmea-wait': { type: 'string' } } }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const configPath = resolve(values.config ?? '/etc/nrec/config.json');
  const nmeaWaitS = values['nmea-wait'] === undefined ? 5 : Number(values['nmea-wait']);
  const results = await runDoctor(configPath, { nmeaWaitMs: nmeaWaitS * 1000 });
  const ok = !results.some((r) => r.status === 'fail');
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify({ ok, config: configPath, checks: results }, null, 2)}\n`);
  } else {
    const lines = [`nrec doctor (${configPath})`, ''];
    let area = '';
    for (const r of results) {
      if (r.area !== area) {
        area = r.area;
        lines.push(`${area}`);
      }
      lines.push(`  [${MARK[r.status]}] ${r.name}: ${r.summary}`);
      if (r.fix !== undefined && r.status !== 'pass') lines.push(`        fix: ${r.fix}`);
    }
    const n = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
    lines.push('', ok ? `No problems found (${n('pass')} passed, ${n('warn')} to look at, ${n('skip')} not applicable).` : `${n('fail')} problem(s) to fix, ${n('warn')} to look at.`, '');
    process.stdout.write(lines.join('\n'));
  }
  return ok ? 0 : 1;
}
