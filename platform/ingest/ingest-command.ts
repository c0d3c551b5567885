import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/logger.js';
import { Ingest } from './ingest.js';

/** `nrec ingest --broker URL --store DIR [--share GROUP] [--client-id ID]`: runs the ingest until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
        store: { type: 'string' },
        share: { type: 'string' },
        // Each worker of a share group needs its own stable id for a persistent session (see IngestOptions.clientId).
        'client-id': { type: 'string' },
        mqtt5: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`nrec ingest: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.store === undefined) {
    process.stderr.write('nrec ingest: --store <dir> is required\n');
    return 2;
  }
  const logger = createLogger('ingest');
  const ingest = new Ingest({ brokerUrl: values.broker, storeDir: values.store, logger, shareGroup: values.share, clientId: values['client-id'], protocolVersion: values.mqtt5 || values.share ? 5 : 4 });
  await ingest.start();
  process.stdout.write(`${JSON.stringify({ ready: true, store: values.store })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await ingest.stop();
  process.stdout.write(`${JSON.stringify(ingest.stats)}\n`);
  return 0;
}
