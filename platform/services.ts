import type { Logger } from '../lib/logger.js';
import type { AlarmDeskApi, CommandSenderApi } from './desk/types.js';
import type { Ingest } from './ingest/index.js';
import { InterimCommandSender } from './interim/command-sender.js';
import { InterimDesk } from './interim/desk.js';
import type { PlatformStore } from './store/index.js';

/*
 * The one place the platform's services are built: the alarm desk and the
 * command sender behind the API, the CLI and the console. The real ones
 * (platform/desk with contacts and escalation, platform/commands, durable)
 * come from branch desk; until then the interim ones in platform/interim
 * stand in. Swap the two constructors below and delete platform/interim.
 */

export interface PlatformServices {
  desk: AlarmDeskApi;
  commands: CommandSenderApi;
  close(): Promise<void>;
}

export interface ServiceDeps {
  store: PlatformStore;
  ingest: Ingest;
  logger: Logger;
  /** The desk's contacts and escalation file (nrec ingest --contacts). */
  contactsFile?: string;
  now?: () => number;
}

export async function openServices(d: ServiceDeps): Promise<PlatformServices> {
  if (d.contactsFile !== undefined) {
    // Refused rather than ignored: someone who gives a contacts file expects those contacts to be called.
    throw new Error(`--contacts ${d.contactsFile}: this build has no alarm desk to notify contacts (platform/desk); run without --contacts, or a build with the desk`);
  }
  const commands = new InterimCommandSender(d.ingest, d.store, d.now);
  const desk = new InterimDesk({ store: d.store, commands, ingest: d.ingest, now: d.now });
  d.logger.warn('interim alarm desk: alarms are shown and can be acknowledged, but nobody is notified (no contacts, no escalation)');
  return {
    desk,
    commands,
    close: async () => {
      desk.close();
      commands.close();
    },
  };
}
