import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from '../platform/desk/index.js';

/** One alarm notification the simulated contact received (signature checked). */
export interface ReceivedNotice {
  deviceId: string;
  alarmId: string;
  tier: number;
  attempt: number;
  at: number;
}

export interface SimOperatorEvents {
  notified: [ReceivedNotice];
  /** A notice whose signature did not verify (it is not acted on). */
  forged: [reason: string];
}

/**
 * The simulator's emergency contact: a webhook receiver the alarm desk
 * notifies (HMAC signature verified as any receiver should), and the files the
 * desk needs to reach it — a contacts file with one contact on the webhook
 * channel and its signing secret. The simulated operator acknowledges through
 * the platform's HTTP API, as a person at the console would.
 */
export class SimOperator extends EventEmitter<SimOperatorEvents> {
  readonly url: string;
  readonly contactsFile: string;
  readonly received: ReceivedNotice[] = [];
  readonly #server: Server;

  private constructor(server: Server, url: string, contactsFile: string) {
    super();
    this.#server = server;
    this.url = url;
    this.contactsFile = contactsFile;
  }

  /** Starts the receiver on a free loopback port and writes the contacts file and secret into `dir`. */
  static async start(dir: string, deviceId: string, consoleUrl?: string): Promise<SimOperator> {
    const secret = randomBytes(24).toString('base64url');
    const secretFile = join(dir, 'webhook.secret');
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    let self: SimOperator | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const v = verifyWebhook(secret, { timestamp: header(req.headers[TIMESTAMP_HEADER]), signature: header(req.headers[SIGNATURE_HEADER]) }, body);
        if (!v.ok) {
          res.writeHead(401).end();
          self?.emit('forged', v.reason);
          return;
        }
        res.writeHead(204).end();
        const n = JSON.parse(body) as { deviceId: string; alarmId: string; tier: number; attempt: number };
        const notice = { deviceId: n.deviceId, alarmId: n.alarmId, tier: n.tier, attempt: n.attempt, at: Date.now() };
        self?.received.push(notice);
        self?.emit('notified', notice);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    const url = `http://127.0.0.1:${port}/alarm`;
    const contactsFile = join(dir, 'contacts.json');
    const contacts = {
      ...(consoleUrl !== undefined ? { acknowledge: { consoleUrl } } : {}),
      channels: { webhook: { secretFile } },
      contacts: { 'sim-operator': { name: 'Simulated operator', channels: [{ type: 'webhook', url }, { type: 'console' }] } },
      escalation: { tiers: [{ contacts: ['sim-operator'] }], repeatS: 30 },
      devices: { [deviceId]: { name: 'Simulated nurse' } },
    };
    await writeFile(contactsFile, `${JSON.stringify(contacts, null, 2)}\n`);
    self = new SimOperator(server, url, contactsFile);
    return self;
  }

  /** Acknowledges an alarm through the API with the operator's token; returns the HTTP status. */
  static async acknowledge(apiUrl: string, token: string, deviceId: string, alarmId: string): Promise<number> {
    const r = await fetch(`${apiUrl}/api/alarms/${encodeURIComponent(alarmId)}/ack?deviceId=${encodeURIComponent(deviceId)}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}',
    });
    await r.arrayBuffer();
    return r.status;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
