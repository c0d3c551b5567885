import { isValidId } from '../../protocol/index.js';
import { toCsv, toGeoJson, toGpx } from '../api/position-export.js';
import { parseTime } from '../api/time-params.js';
import { STORE_OPTIONS, UsageError, ago, isoOrEmpty, parse, runCommand, storeFrom, table } from './cli-kit.js';
import { POSITIONS_HELP as HELP } from './help.js';


export { HELP };

const FORMATS = ['csv', 'gpx', 'geojson'] as const;

/** `nrec positions DEVICE --since …`. */
export async function main(argv: string[]): Promise<number> {
  return runCommand('positions', HELP, async () => {
    const { values, positionals } = parse(argv, {
      ...STORE_OPTIONS, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean', default: false }, format: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const [deviceId, extra] = positionals;
    if (deviceId === undefined) throw new UsageError('name the device');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    if (!isValidId(deviceId)) throw new UsageError(`device id "${deviceId}" is not valid: 1-64 of [A-Za-z0-9_-]`);
    if (values.since === undefined) throw new UsageError('--since TIME is required (e.g. --since 2h)');
    const now = Date.now();
    const since = parseTime(values.since, { now, spans: true });
    if (!since.ok) throw new UsageError(`--since: ${since.reason}`);
    const until = values.until === undefined ? { ok: true as const, ms: now + 1 } : parseTime(values.until, { now, spans: true });
    if (!until.ok) throw new UsageError(`--until: ${until.reason}`);
    if (since.ms >= until.ms) throw new UsageError('--since must be before --until');
    const limit = values.limit === undefined ? 10_000 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError(`--limit "${values.limit}" must be 1 to 100000`);
    const format = values.format;
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format "${format}": csv, gpx or geojson`);
    if (format !== undefined && values.json) throw new UsageError('--json and --format exclude each other');

    const store = await storeFrom(values);
    try {
      if ((await store.device(deviceId)) === undefined) throw new Error(`no device "${deviceId}" in ${store.location}`);
      const ps = await store.positions(deviceId, { from: since.ms, to: until.ms, limit });
      if (ps.length === limit) process.stderr.write(`nrec positions: ${limit} positions (the limit): there may be more; narrow the range or raise --limit\n`);
      if (format === 'csv') process.stdout.write(toCsv(ps));
      else if (format === 'gpx') process.stdout.write(toGpx(deviceId, ps, now));
      else if (format === 'geojson') process.stdout.write(`${JSON.stringify(toGeoJson(ps))}\n`);
      else if (values.json) process.stdout.write(`${JSON.stringify(ps)}\n`);
      else {
        process.stdout.write(table(['FIX TIME', 'AGE', 'LAT', 'LON', 'ACC M', 'FIX', 'SPEED', 'FLAGS'], ps.map((p) => [
          isoOrEmpty(p.fixTime), ago(now - p.fixTime), p.lat.toFixed(6), p.lon.toFixed(6), p.accuracyM?.toFixed(1), p.fixType, p.speedMps?.toFixed(1),
          [p.stale ? 'stale' : '', p.backfill ? 'backfill' : '', p.reason ?? ''].filter((x) => x !== '').join(','),
        ])));
        process.stdout.write(`${ps.length} positions of ${deviceId}\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  });
}
