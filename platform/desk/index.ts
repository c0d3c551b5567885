/*
 * The alarm desk: every alarm a device raises is told to people, tier by
 * tier, until one of them acknowledges it; every state change and every
 * notification attempt is on record in the store. docs/alarm-desk.md
 * describes the behaviour and the contacts file.
 *
 * Wiring (the ingest's composition; `nrec ingest --contacts FILE` does this):
 *
 *   const store = await openStore(db);                         // PlatformStore
 *   const ingest = new Ingest({ …, store });
 *   const commands = await createCommandSender({ store, ingest, logger });
 *   const contacts = await openContacts('contacts.json', { logger }); // throws ContactsError listing every problem
 *   const desk = await createAlarmDesk({ store, ingest, commands, contacts, logger });
 *   await ingest.start();
 *   …
 *   desk.on('change', (alarm: DeskAlarm) => …);                // the live stream / console
 *   await desk.list({ open: true });                           // DeskAlarm[] (newest received first)
 *   await desk.get(deviceId, alarmId);                         // DeskAlarm | undefined
 *   await desk.acknowledge(deviceId, alarmId, 'Anna');         // DeskActionResult: 404 on code 'unknown-alarm',
 *   await desk.resolve(deviceId, alarmId, 'Anna', 'note');     //   409 on 'not-open', 400 on 'invalid'
 *   …
 *   await desk.stop(); await commands.stop(); contacts.close(); await ingest.stop();
 *
 * The API has alarm ids only (POST /api/alarms/{id}/ack): find the device with
 * store.findAlarms(id) (several devices: answer 'ambiguous-alarm').
 * Several ingest workers may each run a desk on one database.
 */
import { AlarmDesk, type AlarmDeskOptions } from './desk.js';
import { ContactsWatch, type ContactsWatchOptions } from './contacts/watch.js';

export { AlarmDesk, commandRequestId, type AlarmDeskOptions, type ContactsSource, type DeskIngest } from './desk.js';
export { ContactsWatch, type ContactsWatchEvents, type ContactsWatchOptions } from './contacts/watch.js';
export { ContactBook, type ResolvedEscalation, type ResolvedContact, type Target } from './contacts/book.js';
export { ContactsError, loadContacts, parseContacts } from './contacts/load.js';
export { ContactsFile } from './contacts/schema.js';
export { dueStep, firstStep, nextStep, type EscalationPlan, type Step } from './escalation.js';
export { buildNotice, mapUrl, type Notice } from './notice.js';
export { logAlarms, logArrivingAlarm } from './alarm-log.js';
export * from './channels/index.js';
export type * from './types.js';

/** Loads the contacts file (throws ContactsError naming every problem) and keeps it current. */
export function openContacts(path: string, o: ContactsWatchOptions): Promise<ContactsWatch> {
  return ContactsWatch.open(path, o);
}

/** Builds the desk and starts it: takes on the open alarms in the store, then follows the ingest. */
export async function createAlarmDesk(o: AlarmDeskOptions): Promise<AlarmDesk> {
  const desk = new AlarmDesk(o);
  await desk.start();
  return desk;
}
