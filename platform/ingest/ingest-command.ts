import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/logger.js';
import { parseListen } from '../api/listen-address.js';
import { Platform } from '../platform.js';

export const HELP = `usage: nrec ingest --store DIR [--broker URL] [--db URL] [--share GROUP --client-id ID]
                   [--ca FILE] [--cert FILE --key FILE] [--username NAME --password-file FILE] [--mqtt5]
                   [--http HOST:PORT [--offline-after SECONDS] [--trust-proxy]] [--contacts FILE]
Receives what devices publish, validates it, commits it to the store and only then
acknowledges it (to the broker and, end to end, to the device). With --http it also
serves the HTTP API and its live stream from the same process (docs/api.md).
  --store DIR          evidence files and device keys; also the default SQLite store (DIR/platform.db)
  --db URL             the store: sqlite:/path/file.db or postgres://user@host/db (password: PGPASSWORD or ~/.pgpass)
  --broker URL         mqtt:// or mqtts:// (default mqtt://127.0.0.1:1883)
  --share GROUP        MQTT shared subscription: several workers split the load (give each a --client-id)
  --client-id ID       the persistent session's client id (default: derived from --store)
  --ca/--cert/--key    TLS: CA to trust, client certificate and key (PEM)
  --username, --password-file   broker credentials (the password is read from the file, never given inline)
  --mqtt5              speak MQTT 5 (default 3.1.1, which every broker here speaks)
  --http HOST:PORT     serve the API (e.g. 127.0.0.1:8080); tokens: nrec token create --db URL
  --offline-after S    a device silent for longer is shown offline (default 120)
  --trust-proxy        take client addresses from X-Forwarded-For (only behind your reverse proxy)
  --contacts FILE      the alarm desk's contacts and escalation (docs/alarm-desk.md)
Exits non-zero when it cannot do its job: bad credentials or certificates, a broker
ACL refusing it, a store that cannot be opened or keeps failing.`;

/** `nrec ingest`: runs the ingest until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
        store: { type: 'string' },
        db: { type: 'string' },
        share: { type: 'string' },
        'client-id': { type: 'string' },
        mqtt5: { type: 'boolean', default: false },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        username: { type: 'string' },
        'password-file': { type: 'string' },
        http: { type: 'string' },
        'offline-after': { type: 'string' },
        'trust-proxy': { type: 'boolean', default: false },
        contacts: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`nrec ingest: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.store === undefined) {
    process.stderr.write('nrec ingest: --store <dir> is required (evidence files and device keys live there)\n');
    return 2;
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    process.stderr.write('nrec ingest: --cert and --key go together\n');
    return 2;
  }
  let http: { host: string; port: number; silenceMs?: number; trustProxy?: boolean } | undefined;
  try {
    if (values.http !== undefined) http = { ...parseListen(values.http), trustProxy: values['trust-proxy'] };
    if (values['offline-after'] !== undefined) {
      const s = Number(values['offline-after']);
      if (http === undefined) throw new Error('--offline-after goes with --http');
      if (!(s >= 1 && s <= 86_400)) throw new Error(`--offline-after "${values['offline-after']}" must be 1 to 86400 seconds`);
      http.silenceMs = s * 1000;
    }
  } catch (err) {
    process.stderr.write(`nrec ingest: ${(err as Error).message}\n`);
    return 2;
  }
  const read = async (what: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const logger = createLogger('ingest');
  let tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; password?: string };
  try {
    tls = {
      ca: await read('--ca', values.ca),
      cert: await read('--cert', values.cert),
      key: await read('--key', values.key),
      password: (await read('--password-file', values['password-file']))?.toString('utf8').trim(),
    };
  } catch (err) {
    process.stderr.write(`nrec ingest: ${(err as Error).message}\n`);
    return 2;
  }
  const dbUrl = values.db ?? join(values.store, 'platform.db');
  let platform: Platform;
  try {
    platform = await Platform.start({
      brokerUrl: values.broker, storeDir: values.store, db: dbUrl, logger, shareGroup: values.share, clientId: values['client-id'],
      protocolVersion: values.mqtt5 ? 5 : 4, username: values.username, ...tls, http, contactsFile: values.contacts,
    });
  } catch (err) {
    process.stderr.write(`nrec ingest: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  const { ingest, store } = platform;
  const fatal = new Promise<Error>((resolve) => ingest.on('fatal', resolve));
  if (platform.api !== undefined) process.stdout.write(`${JSON.stringify({ api: platform.api.url })}\n`);
  ingest.once('connect', () => process.stdout.write(`${JSON.stringify({ ready: true, store: values.store, db: store.location, ...(platform.api ? { api: platform.api.url } : {}) })}\n`));
  const stopped = new Promise<'signal'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
  });
  const outcome = await Promise.race([stopped, fatal]);
  await platform.stop().catch((err: Error) => logger.error({ err: err.message }, 'ingest did not stop cleanly'));
  if (outcome instanceof Error) {
    logger.fatal({ err: outcome.message }, 'ingest cannot do its job; exiting');
    process.stderr.write(`nrec ingest: ${outcome.message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(ingest.stats)}\n`);
  return 0;
}
