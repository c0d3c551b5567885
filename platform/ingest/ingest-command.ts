import { readFile } from 'node:fs/promises';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import { createLogger } from '../../lib/logger.js';
import { parseListen } from '../api/listen-address.js';
import { DEFAULT_TILES } from '../api/server.js';
import type { TileSource } from '../api/route-kit.js';
import { ContactsError } from '../desk/index.js';
import { Platform } from '../platform.js';

/**
 * `nrec ingest --store DIR [--broker URL] [--db URL] [--http HOST:PORT] [--contacts FILE] ...`
 * (help text in cli.ts): the platform process — ingest, alarm desk, command sender and, with
 * --http, the API and console — until SIGINT/SIGTERM. A broker that is not there (yet) is
 * waited for: the ingest subscribes as soon as it connects, warning once meanwhile. What
 * retrying cannot fix — bad credentials, a certificate the broker or we refuse, an ACL refusing
 * the platform, a store that cannot be opened or keeps failing — ends it with exit code 1 naming
 * the cause, for its service manager to restart it and a person to read (docs/liveness.md).
 */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      store: { type: 'string' },
      db: { type: 'string' },
      share: { type: 'string' },
      // Each worker of a share group needs its own stable id for a persistent session (see IngestOptions.clientId).
      'client-id': { type: 'string' },
      mqtt5: { type: 'boolean', default: false },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      contacts: { type: 'string' },
      http: { type: 'string' },
      'offline-after': { type: 'string' },
      'trust-proxy': { type: 'boolean', default: false },
      tiles: { type: 'string' },
      'tiles-attribution': { type: 'string' },
    },
  });
  if (values.store === undefined) throw new UsageError('--store DIR is required (evidence files and device keys live there)');
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together');
  let http: { host: string; port: number; silenceMs?: number; trustProxy?: boolean; tiles?: TileSource | null } | undefined;
  try {
    if (values.http !== undefined) http = { ...parseListen(values.http), trustProxy: values['trust-proxy'] };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values['offline-after'] !== undefined) {
    const s = Number(values['offline-after']);
    if (http === undefined) throw new UsageError('--offline-after goes with --http');
    if (!(s >= 1 && s <= 86_400)) throw new UsageError(`--offline-after "${values['offline-after']}" must be 1 to 86400 seconds`);
    http.silenceMs = s * 1000;
  }
  if (values.tiles !== undefined || values['tiles-attribution'] !== undefined) {
    if (http === undefined) throw new UsageError('--tiles and --tiles-attribution go with --http');
    http.tiles = parseTiles(values.tiles, values['tiles-attribution']);
  }
  const file = async (flag: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const logger = createLogger('ingest');
  let platform: Platform;
  try {
    platform = await Platform.start({
      brokerUrl: values.broker,
      storeDir: values.store,
      db: values.db,
      logger,
      shareGroup: values.share,
      clientId: values['client-id'],
      protocolVersion: values.mqtt5 ? 5 : 4,
      ca: await file('--ca', values.ca),
      cert: await file('--cert', values.cert),
      key: await file('--key', values.key),
      username: values.username,
      password: (await file('--password-file', values['password-file']))?.toString('utf8').trim(),
      http,
      contactsFile: values.contacts,
    });
  } catch (err) {
    process.stderr.write(`nrec ingest: cannot start: ${(err as Error).message}\n`);
    // A contacts file with mistakes is a usage problem like a bad flag: fix the file, run again.
    return err instanceof ContactsError ? 2 : 1;
  }
  const { ingest, store } = platform;
  const fatal = new Promise<Error>((resolve) => ingest.on('fatal', resolve));
  if (platform.api !== undefined) process.stdout.write(`${JSON.stringify({ api: platform.api.url })}\n`);
  ingest.once('connect', () => process.stdout.write(`${JSON.stringify({ ready: true, store: values.store, db: store.location, desk: platform.services.notifying, ...(platform.api ? { api: platform.api.url } : {}) })}\n`));
  const stopped = new Promise<'signal'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
  });
  const outcome = await Promise.race([stopped, fatal]);
  await platform.stop().catch((err: Error) => logger.error({ err: err.message }, 'platform did not stop cleanly'));
  if (outcome instanceof Error) {
    logger.fatal({ err: outcome.message, broker: values.broker }, 'ingest cannot do its job; exiting');
    process.stderr.write(`nrec ingest: cannot run: ${outcome.message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(ingest.stats)}\n`);
  return 0;
}

/** --tiles URL|none and --tiles-attribution: the console map's tile source. */
export function parseTiles(url: string | undefined, attribution: string | undefined): TileSource | null {
  if (url === 'none') {
    if (attribution !== undefined) throw new UsageError('--tiles-attribution makes no sense with --tiles none');
    return null;
  }
  if (url === undefined) return { ...DEFAULT_TILES, attribution: attribution ?? DEFAULT_TILES.attribution };
  if (!/^https?:\/\/[^/?#]+\//i.test(url)) throw new UsageError(`--tiles "${url}" must be an http:// or https:// URL template (or none)`);
  const missing = ['{z}', '{x}', '{y}'].filter((p) => !url.includes(p));
  if (missing.length > 0) throw new UsageError(`--tiles "${url}" lacks ${missing.join(', ')}: an OSM-style template looks like https://tile.example.org/{z}/{x}/{y}.png`);
  return { url, attribution: attribution ?? '', maxZoom: 19 };
}
