import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/logger.js';
import { createCommandSender, type CommandSender } from '../commands/index.js';
import { createAlarmDesk, logAlarms, openContacts, type AlarmDesk, type ContactsWatch } from '../desk/index.js';
import { openStore } from '../store/index.js';
import { Ingest } from './ingest.js';

export const HELP = `usage: nrec ingest --store DIR [--broker URL] [--db URL] [--share GROUP --client-id ID]
                   [--ca FILE] [--cert FILE --key FILE] [--username NAME --password-file FILE] [--mqtt5]
                   [--contacts FILE]
Receives what devices publish, validates it, commits it to the store and only then
acknowledges it (to the broker and, end to end, to the device).
  --store DIR          evidence files and device keys; also the default SQLite store (DIR/platform.db)
  --db URL             the store: sqlite:/path/file.db or postgres://user@host/db (password: PGPASSWORD or ~/.pgpass)
  --broker URL         mqtt:// or mqtts:// (default mqtt://127.0.0.1:1883)
  --share GROUP        MQTT shared subscription: several workers split the load (give each a --client-id)
  --client-id ID       the persistent session's client id (default: derived from --store)
  --ca/--cert/--key    TLS: CA to trust, client certificate and key (PEM)
  --username, --password-file   broker credentials (the password is read from the file, never given inline)
  --mqtt5              speak MQTT 5 (default 3.1.1, which every broker here speaks)
  --contacts FILE      run the alarm desk: tell the contacts in FILE about every alarm until one acknowledges
                       (docs/alarm-desk.md; reloaded when it changes; a bad file at start is an error)
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
  let contacts: ContactsWatch | undefined;
  if (values.contacts !== undefined) {
    try {
      contacts = await openContacts(values.contacts, { logger });
    } catch (err) {
      process.stderr.write(`nrec ingest: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const dbUrl = values.db ?? join(values.store, 'platform.db');
  let store;
  try {
    store = await openStore(dbUrl);
  } catch (err) {
    process.stderr.write(`nrec ingest: cannot open the store: ${(err as Error).message}\n`);
    contacts?.close();
    return 1;
  }
  const ingest = new Ingest({
    brokerUrl: values.broker, storeDir: values.store, store, logger, shareGroup: values.share, clientId: values['client-id'],
    protocolVersion: values.mqtt5 ? 5 : 4, username: values.username, ...tls,
  });
  const fatal = new Promise<Error>((resolve) => ingest.on('fatal', resolve));
  let commands: CommandSender | undefined;
  let desk: AlarmDesk | undefined;
  if (contacts !== undefined) {
    try {
      commands = await createCommandSender({ store, ingest, logger });
      desk = await createAlarmDesk({ store, ingest, commands, contacts, logger });
    } catch (err) {
      process.stderr.write(`nrec ingest: cannot start the alarm desk: ${(err as Error).message}\n`);
      await commands?.stop();
      contacts.close();
      await store.close();
      return 1;
    }
    logger.info(contacts.current.summary(), 'alarm desk running');
  } else {
    logAlarms(ingest, logger);
  }
  // Not waiting for the broker: an ingest started before it connects (and subscribes) when it comes.
  await ingest.start({ wait: false });
  ingest.once('connect', () => process.stdout.write(`${JSON.stringify({ ready: true, store: values.store, db: store.location, desk: desk !== undefined })}\n`));
  const stopped = new Promise<'signal'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
  });
  const outcome = await Promise.race([stopped, fatal]);
  await desk?.stop().catch((err: Error) => logger.error({ err: err.message }, 'alarm desk did not stop cleanly'));
  await commands?.stop().catch((err: Error) => logger.error({ err: err.message }, 'command sender did not stop cleanly'));
  contacts?.close();
  await ingest.stop().catch((err: Error) => logger.error({ err: err.message }, 'ingest did not stop cleanly'));
  if (outcome instanceof Error) {
    logger.fatal({ err: outcome.message }, 'ingest cannot do its job; exiting');
    process.stderr.write(`nrec ingest: ${outcome.message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(ingest.stats)}\n`);
  return 0;
}
