import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import { createLogger } from '../../lib/logger.js';
import { createCommandSender, type CommandSender } from '../commands/index.js';
import { createAlarmDesk, logAlarms, openContacts, type AlarmDesk, type ContactsWatch } from '../desk/index.js';
import { openStore } from '../store/index.js';
import { Ingest } from './ingest.js';

/**
 * `nrec ingest --store DIR [--broker URL] [--db URL] ...` (help text in cli.ts): runs the ingest
 * until SIGINT/SIGTERM. A broker that is not there (yet) is waited for: the ingest
 * subscribes as soon as it connects, warning once meanwhile. What retrying cannot fix —
 * bad credentials, a certificate the broker or we refuse, an ACL refusing the platform,
 * a store that cannot be opened or keeps failing — ends it with exit code 1 naming the
 * cause, for its service manager to restart it and a person to read (docs/liveness.md).
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
    },
  });
  if (values.store === undefined) throw new UsageError('--store DIR is required (evidence files and device keys live there)');
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together');
  const file = async (flag: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const logger = createLogger('ingest');
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
    store = await openStore(dbUrl, { logger });
  } catch (err) {
    process.stderr.write(`nrec ingest: cannot open the store: ${(err as Error).message}\n`);
    contacts?.close();
    return 1;
  }
  let ingest: Ingest;
  try {
    ingest = new Ingest({
      brokerUrl: values.broker,
      storeDir: values.store,
      store,
      logger,
      shareGroup: values.share,
      clientId: values['client-id'],
      protocolVersion: values.mqtt5 ? 5 : 4,
      ca: await file('--ca', values.ca),
      cert: await file('--cert', values.cert),
      key: await file('--key', values.key),
      username: values.username,
      password: (await file('--password-file', values['password-file']))?.toString('utf8').trim(),
    });
  } catch (err) {
    await store.close().catch(() => undefined);
    process.stderr.write(`nrec ingest: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
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
  const fatal = new Promise<Error>((resolve) => ingest.on('fatal', resolve));
  ingest.once('connect', () => process.stdout.write(`${JSON.stringify({ ready: true, store: values.store, db: store.location, desk: desk !== undefined })}\n`));
  await ingest.start({ wait: false });
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
    logger.fatal({ err: outcome.message, broker: values.broker }, 'ingest cannot do its job; exiting');
    process.stderr.write(`nrec ingest: cannot run: ${outcome.message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(ingest.stats)}\n`);
  return 0;
}
