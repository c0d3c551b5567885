import { writeFile } from 'node:fs/promises';
import type { TempDir } from './temp.js';

/*
 * What the console tests share: a contacts file with a named nurse and one
 * webhook tier (so the desk has an escalation timeline to show), and a tile
 * URL that nothing answers (the map must draw without tiles).
 */

/** A contacts file: the device worn by `name`, tier 1 a webhook to `hookUrl` (a secret beside it, 0600). */
export async function consoleContacts(dir: TempDir, o: { deviceId: string; name: string; hookUrl: string; delayS?: number }): Promise<string> {
  await writeFile(dir.file('webhook.secret'), 'console-test-webhook-secret-0123456789\n', { mode: 0o600 });
  const file = dir.file('contacts.json');
  await writeFile(file, JSON.stringify({
    acknowledge: { consoleUrl: 'http://127.0.0.1/console/#/alarms/{deviceId}/{alarmId}' },
    channels: { webhook: { secretFile: 'webhook.secret', timeoutMs: 2000, retries: 1, backoffMs: 100 } },
    contacts: { ward: { name: 'Ward 3 station', channels: [{ type: 'webhook', url: o.hookUrl }] } },
    escalation: { tiers: [{ contacts: ['ward'], delayS: o.delayS ?? 600 }], repeatS: 600 },
    devices: { [o.deviceId]: { name: o.name } },
  }, null, 2));
  return file;
}
