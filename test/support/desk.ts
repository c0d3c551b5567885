import { writeFile } from 'node:fs/promises';
import type { Logger } from '../../lib/logger.js';
import { createCommandSender, type CommandSender } from '../../platform/commands/index.js';
import { createAlarmDesk, openContacts, type AlarmDesk, type ContactsWatch } from '../../platform/desk/index.js';
import { Ingest } from '../../platform/ingest/index.js';
import { openStore, type PlatformStore } from '../../platform/store/index.js';
import type { TestPki } from './certs.js';
import type { HttpReceiver, SmtpReceiver } from './receivers.js';
import type { TempDir } from './temp.js';

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef';
export const SMTP_USER = { user: 'desk', pass: 'smtp-password-for-tests' };
export const SMS_TOKEN = 'sms-gateway-token-for-tests';

/**
 * A contacts file for the receivers of a test: tier 1 (`ward`: webhook at
 * /hook/ward, e-mail, SMS), tier 2 (`manager`: webhook at /hook/manager and
 * SMS), secrets in 0600 files beside it, the SMTP server's CA trusted.
 */
export async function writeDeskContacts(dir: TempDir, r: { http: HttpReceiver; smtp: SmtpReceiver; pki: TestPki }, o: { delayS: number; repeatS: number; deviceId: string; name?: string }): Promise<string> {
  await writeFile(dir.file('webhook.secret'), `${WEBHOOK_SECRET}\n`, { mode: 0o600 });
  await writeFile(dir.file('smtp.json'), JSON.stringify(SMTP_USER), { mode: 0o600 });
  await writeFile(dir.file('sms.json'), JSON.stringify({ token: SMS_TOKEN }), { mode: 0o600 });
  const file = dir.file('contacts.json');
  await writeFile(file, JSON.stringify({
    acknowledge: { consoleUrl: 'https://nrec.test/console/#/alarms/{deviceId}/{alarmId}' },
    channels: {
      webhook: { secretFile: 'webhook.secret', timeoutMs: 2000, retries: 2, backoffMs: 100 },
      email: { host: '127.0.0.1', port: r.smtp.port, from: 'nrec alarms <alarms@nrec.test>', credentialsFile: 'smtp.json', tls: { caFile: r.pki.ca }, timeoutMs: 5000 },
      sms: { url: r.http.url('/sms'), headers: { Authorization: 'Bearer {credentials.token}' }, body: '{"to":"{to}","text":"{text}","ref":"{key}"}', credentialsFile: 'sms.json', backoffMs: 100 },
    },
    contacts: {
      ward: { name: 'Ward 3 station', channels: [{ type: 'webhook', url: r.http.url('/hook/ward') }, { type: 'email', to: 'ward3@hospital.test' }, { type: 'sms', to: '+4915100000001' }] },
      manager: { name: 'Night manager', channels: [{ type: 'webhook', url: r.http.url('/hook/manager') }, { type: 'sms', to: '+4915100000002' }] },
    },
    escalation: { tiers: [{ contacts: ['ward'], delayS: o.delayS }, { contacts: ['manager'] }], repeatS: o.repeatS },
    devices: { [o.deviceId]: { name: o.name ?? 'Maria K.' } },
  }, null, 2));
  return file;
}

export interface DeskIngest {
  store: PlatformStore;
  ingest: Ingest;
  commands: CommandSender;
  desk: AlarmDesk;
  contacts: ContactsWatch;
  stop(): Promise<void>;
}

/** An in-process ingest with the command sender and the alarm desk, as `nrec ingest --contacts` composes them. */
export async function startDeskIngest(o: { brokerUrl: string; storeDir: string; db?: string; contactsFile: string; logger: Logger; shareGroup?: string; clientId?: string }): Promise<DeskIngest> {
  const store = await openStore(o.db ?? `${o.storeDir}/platform.db`, { logger: o.logger });
  const ingest = new Ingest({ brokerUrl: o.brokerUrl, storeDir: o.storeDir, store, logger: o.logger, shareGroup: o.shareGroup, clientId: o.clientId, media: false });
  const contacts = await openContacts(o.contactsFile, { logger: o.logger });
  const commands = await createCommandSender({ store, ingest, logger: o.logger });
  const desk = await createAlarmDesk({ store, ingest, commands, contacts, logger: o.logger });
  await ingest.start();
  return {
    store, ingest, commands, desk, contacts,
    stop: async () => {
      await desk.stop();
      await commands.stop();
      contacts.close();
      await ingest.stop();
    },
  };
}
