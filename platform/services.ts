import { EventEmitter } from 'node:events';
import type { Logger } from '../lib/logger.js';
import { createCommandSender, type CommandSender } from './commands/index.js';
import { createAlarmDesk, openContacts, parseContacts, type AlarmDesk, type ContactBook, type ContactsSource, type ContactsWatch } from './desk/index.js';
import type { Ingest } from './ingest/index.js';
import type { PlatformStore } from './store/index.js';

/*
 * The one place the platform's services are built: the durable command sender
 * and the alarm desk behind the API, the CLI and the console. Without a contacts
 * file the desk still runs — every alarm is on the desk, in the live stream and
 * acknowledgeable, and alarm.ack reaches the device — but nobody is notified,
 * which is said at start.
 */

export interface PlatformServices {
  desk: AlarmDesk;
  commands: CommandSender;
  /** True when a contacts file is in force (someone is told about alarms). */
  notifying: boolean;
  /** The wearers' names from the contacts file (as reloaded): device id → name. */
  deviceNames(): Map<string, string>;
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

/** No contacts: an empty book that never changes. */
class NoContacts extends EventEmitter implements ContactsSource {
  constructor(readonly current: ContactBook) {
    super();
  }
  close(): void {
    // nothing watched
  }
}

export async function openServices(d: ServiceDeps): Promise<PlatformServices> {
  let contacts: ContactsWatch | NoContacts;
  if (d.contactsFile !== undefined) {
    contacts = await openContacts(d.contactsFile, { logger: d.logger });
    d.logger.info(contacts.current.summary(), 'alarm desk: contacts loaded');
  } else {
    contacts = new NoContacts(await parseContacts('{"contacts":{}}', '(no contacts file)'));
    d.logger.warn('alarm desk without a contacts file (--contacts): alarms are shown and can be acknowledged, but nobody is notified');
  }
  let commands: CommandSender | undefined;
  try {
    commands = await createCommandSender({ store: d.store, ingest: d.ingest, logger: d.logger });
    const desk = await createAlarmDesk({ store: d.store, ingest: d.ingest, commands, contacts, logger: d.logger });
    const sender = commands;
    return {
      desk,
      commands: sender,
      notifying: d.contactsFile !== undefined,
      deviceNames: () => contacts.current.deviceNames(),
      close: async () => {
        await desk.stop();
        await sender.stop();
        contacts.close();
      },
    };
  } catch (err) {
    await commands?.stop().catch(() => undefined);
    contacts.close();
    throw err;
  }
}
