// The alarm reaches people: an SOS from the agent (a child process, its
// button a simulated GPIO line) through a real Mosquitto to the ingest and
// its alarm desk. Tier 1 is told on all three channels — a webhook to a real
// HTTP server (signature verified as a receiver would), an e-mail to a real
// SMTP server (STARTTLS, login), an SMS through a gateway on the HTTP server.
// Nobody acknowledges, so tier 2 is told after tier 1's delay. Then the desk
// acknowledges (as POST /api/alarms/{id}/ack will): the escalation stops (no
// repeat comes, though one was due), the device gets alarm.ack — its alarm
// message `acknowledged` is stored, its log says it handled the command — and
// the desk records the device's answer and when its alarm became acknowledged.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { verifyWebhook, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, type Notice } from '../platform/desk/index.js';
import { makeTestPki, type TestPki } from './support/certs.js';
import { SMS_TOKEN, SMTP_USER, startDeskIngest, WEBHOOK_SECRET, writeDeskContacts } from './support/desk.js';
import { HttpReceiver, SmtpReceiver, type ReceivedRequest } from './support/receivers.js';
import { Cleanup, makeTempDir, Mosquitto, nextStored, waitFor, World } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki([]);
});
afterAll(() => pki.remove());

const DELAY_S = 2;
const REPEAT_S = 4;

const notice = (r: ReceivedRequest) => JSON.parse(r.body) as Notice;

describe('alarm desk end to end', () => {
  it('an SOS notifies tier 1 on webhook, e-mail and SMS, escalates to tier 2, stops when acknowledged; the device gets alarm.ack', async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir('nrec-desk-e2e-'), (d) => d.remove());
    const http = cleanup.add(await HttpReceiver.start(), (h) => h.close());
    const smtp = cleanup.add(await SmtpReceiver.start({ keyFile: pki.server.key, certFile: pki.server.cert }, SMTP_USER), (s) => s.close());
    const contactsFile = await writeDeskContacts(dir, { http, smtp, pki }, { delayS: DELAY_S, repeatS: REPEAT_S, deviceId: 'sim-001' });
    const platform = cleanup.add(await startDeskIngest({ brokerUrl: mosquitto.url, storeDir: dir.file('store'), contactsFile, logger }), (p) => p.stop());
    const world = cleanup.add(
      await World.create({ logger, workDir: dir.file('world'), brokerUrl: mosquitto.url, ingest: false, autoFeed: false, agentConfig: { button: { resendS: 1 } } }),
      (w) => w.close(),
    );
    await world.agent.waitForLine('sysfs watching button line');
    await waitFor('agent birth', () => platform.ingest.stats.accepted.status);

    const raised = nextStored<{ alarmId: string; state: string }>(platform.ingest, 'alarm', (a) => a.state === 'raised');
    await world.pressSos(1700);
    const { alarmId } = await raised;

    // Tier 1: all three channels.
    const [hook] = await http.until('tier 1 webhook', (r) => r.url === '/hook/ward');
    const [mail] = await smtp.until('tier 1 e-mail', (m) => m.to.includes('ward3@hospital.test'));
    const [sms] = await http.until('tier 1 SMS', (r) => r.url === '/sms' && (JSON.parse(r.body) as { to: string }).to === '+4915100000001');
    expect(verifyWebhook(WEBHOOK_SECRET, { timestamp: hook.headers[TIMESTAMP_HEADER] as string, signature: hook.headers[SIGNATURE_HEADER] as string }, hook.body)).toEqual({ ok: true });
    expect(hook.headers[IDEMPOTENCY_HEADER]).toBe(`sim-001/${alarmId}:0:0:webhook:ward`);
    const n = notice(hook);
    expect(n).toMatchObject({ type: 'alarm', alarm: 'sos', deviceId: 'sim-001', deviceName: 'Maria K.', alarmId, tier: 0, attempt: 0, acknowledge: { consoleUrl: `https://nrec.test/console/#/alarms/sim-001/${alarmId}` } });
    expect(mail.secure).toBe(true);
    expect(mail.user).toBe('desk');
    expect(mail.headers.subject).toBe('SOS: Maria K. (sim-001)');
    expect(mail.text).toContain(`alarm ${alarmId}`);
    expect(sms.headers.authorization).toBe(`Bearer ${SMS_TOKEN}`);
    expect((JSON.parse(sms.body) as { text: string; ref: string })).toMatchObject({ text: expect.stringContaining(`alarm ${alarmId}`), ref: `sim-001/${alarmId}:0:0:sms:ward` });

    // Nobody acknowledges: tier 2, after tier 1's delay.
    const [hook2] = await http.until('tier 2 webhook', (r) => r.url === '/hook/manager');
    await http.until('tier 2 SMS', (r) => r.url === '/sms' && (JSON.parse(r.body) as { to: string }).to === '+4915100000002');
    const before = (await platform.desk.get('sim-001', alarmId))!;
    expect(hook2.at - before.receivedAt).toBeGreaterThanOrEqual(DELAY_S * 1000);
    expect(notice(hook2)).toMatchObject({ tier: 1, attempt: 0 });

    // Acknowledged: the device is told, the escalation stops.
    const deviceAcked = nextStored<{ alarmId: string; state: string }>(platform.ingest, 'alarm', (a) => a.alarmId === alarmId && a.state === 'acknowledged');
    const r = await platform.desk.acknowledge('sim-001', alarmId, 'Anna Schmidt');
    expect(r).toMatchObject({ ok: true, already: false, alarm: { state: 'acknowledged', acknowledgedBy: 'Anna Schmidt' } });
    const counted = { http: http.requests.length, mail: smtp.mails.length };
    await deviceAcked;
    await world.agent.waitForLine(/"command":"alarm\.ack".*"status":"ok"/);
    const acked = await waitForAsync('ack result and device acknowledgement on the desk', async () => {
      const a = await platform.desk.get('sim-001', alarmId);
      return a?.ackCommand?.status === 'ok' && a.deviceAcknowledgedAt !== undefined ? a : undefined;
    });
    expect(acked).toMatchObject({ state: 'acknowledged', deviceState: 'acknowledged', ackCommand: { status: 'ok' } });
    expect(acked.history.map((h) => h.state)).toEqual(['raised', 'notifying', 'acknowledged']);

    // A repeat of tier 2 was due every REPEAT_S: let two pass; nothing more goes out.
    await sleep(2 * REPEAT_S * 1000 + 500);
    await platform.desk.settled();
    expect({ http: http.requests.length, mail: smtp.mails.length }).toEqual(counted);
    const a = (await platform.desk.get('sim-001', alarmId))!;
    expect(a.attempts.map((x) => `${x.tier}:${x.attempt} ${x.channel} ${x.result}`).sort()).toEqual([
      '0:0 email sent', '0:0 sms sent', '0:0 webhook sent', '1:0 sms sent', '1:0 webhook sent',
    ]);
    expect(a.attempts.every((x) => x.latencyMs !== undefined && x.latencyMs >= 0)).toBe(true);
    expect(a.attempts.find((x) => x.channel === 'email')?.recipient).toBe('Ward 3 station <ward3@hospital.test>');
  });
});

async function waitForAsync<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
