import { readFile } from 'node:fs/promises';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import { createLogger } from '../../lib/logger.js';
import { Ingest } from './ingest.js';

/**
 * `nrec ingest --store DIR [--broker URL] ...`: runs the ingest until SIGINT/SIGTERM.
 * It cannot do its job without the broker, so a failure to connect at start
 * (refused, TLS handshake, not authorised) ends it with exit code 1 naming the
 * cause, for its service manager to restart it; reconnects after that are the
 * ingest's own (docs/liveness.md).
 */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      store: { type: 'string' },
      share: { type: 'string' },
      // Each worker of a share group needs its own stable id for a persistent session (see IngestOptions.clientId).
      'client-id': { type: 'string' },
      mqtt5: { type: 'boolean', default: false },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
    },
  });
  if (values.store === undefined) throw new UsageError('--store DIR is required');
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
  const ingest = new Ingest({
    brokerUrl: values.broker,
    storeDir: values.store,
    logger,
    shareGroup: values.share,
    clientId: values['client-id'],
    protocolVersion: values.mqtt5 || values.share ? 5 : 4,
    ca: await file('--ca', values.ca),
    cert: await file('--cert', values.cert),
    key: await file('--key', values.key),
    username: values.username,
    password: (await file('--password-file', values['password-file']))?.toString('utf8').trim(),
  });
  try {
    await ingest.start();
  } catch (err) {
    const e = err as Error & { code?: string | number };
    const cause = `${e.message}${e.code === undefined || e.message.includes(String(e.code)) ? '' : ` (${e.code})`}`;
    logger.fatal({ err: cause, broker: values.broker }, 'ingest cannot start');
    process.stderr.write(`nrec ingest: cannot start: cannot connect to ${values.broker}: ${cause}\n`);
    await ingest.stop().catch(() => undefined);
    return 1;
  }
  process.stdout.write(`${JSON.stringify({ ready: true, store: values.store })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await ingest.stop();
  process.stdout.write(`${JSON.stringify(ingest.stats)}\n`);
  return 0;
}
