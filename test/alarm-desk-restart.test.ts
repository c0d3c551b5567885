// `kill -9` of `nrec ingest --contacts` in the middle of an escalation: tier 1
// has been told, tier 2 is due a few seconds later. The process is killed
// with SIGKILL (nothing of it runs after that) and started again while the
// agent keeps re-sending its alarm. The restarted desk finds the schedule in
// the database and tells tier 2 when it was due — not earlier, not a full
// delay later, and with no re-send arriving in between to prompt it — and
// nobody is told twice for one step: the steps it finds done and the re-send
// it stores next notify nobody again.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { IDEMPOTENCY_HEADER } from '../platform/desk/index.js';
import { openStore } from '../platform/store/index.js';
import { makeTestPki, type TestPki } from './support/certs.js';
import { SMS_TOKEN, SMTP_USER, WEBHOOK_SECRET, writeDeskContacts } from './support/desk.js';
import { IngestProcess } from './support/ingest-process.js';
import { HttpReceiver, SmtpReceiver, type ReceivedRequest } from './support/receivers.js';
import { Cleanup, makeTempDir, Mosquitto, waitFor, World } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki([]);
});
afterAll(() => pki.remove());

const DELAY_S = 6;
/** The agent's re-send interval: longer than the delay, so tier 2 can only come from the schedule in the database, not from a re-send arriving after it was due. */
const RESEND_S = 10;

const keyOf = (r: ReceivedRequest) => (r.url === '/sms' ? (JSON.parse(r.body) as { ref: string }).ref : String(r.headers[IDEMPOTENCY_HEADER]));

describe('alarm desk across a kill -9 of the ingest', () => {
  it('carries the escalation on on schedule after the restart, notifying nothing twice', async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir('nrec-desk-kill-'), (d) => d.remove());
    const http = cleanup.add(await HttpReceiver.start(), (h) => h.close());
    const smtp = cleanup.add(await SmtpReceiver.start({ keyFile: pki.server.key, certFile: pki.server.cert }, SMTP_USER), (s) => s.close());
    const contactsFile = await writeDeskContacts(dir, { http, smtp, pki }, { delayS: DELAY_S, repeatS: 600, deviceId: 'sim-001' });
    const storeDir = dir.file('store');
    const ingest = cleanup.add(new IngestProcess(['--broker', mosquitto.url, '--store', storeDir, '--contacts', contactsFile]), (p) => p.stop());
    await ingest.start();
    const world = cleanup.add(
      await World.create({ logger, workDir: dir.file('world'), brokerUrl: mosquitto.url, ingest: false, autoFeed: false, agentConfig: { button: { resendS: RESEND_S } } }),
      (w) => w.close(),
    );
    await world.agent.waitForLine('sysfs watching button line');
    await world.agent.waitForLine('"msg":"connected"');
    await world.pressSos(1700);

    await http.until('tier 1 webhook', (r) => r.url === '/hook/ward');
    await http.until('tier 1 SMS', (r) => keyOf(r).endsWith(':0:0:sms:ward'));
    await smtp.until('tier 1 e-mail', () => true);
    const store = cleanup.add(await openStore(`${storeDir}/platform.db`), (s) => s.close());
    const [row] = await store.select('SELECT alarm_id, state, received_at, next_step_at FROM desk_alarms');
    const due = Number(row.next_step_at);
    expect(row.state).toBe('notifying');
    expect(due).toBe(Number(row.received_at) + DELAY_S * 1000);
    // Killed well before tier 2 is due, mid-escalation.
    expect(due - Date.now()).toBeGreaterThan(3000);
    await ingest.stop('SIGKILL');
    // Down for a moment (the scenario, not a wait for an event).
    await sleep(1500);
    await ingest.start();
    expect(Date.now()).toBeLessThan(due);

    const [tier2] = await http.until('tier 2 webhook after the restart', (r) => r.url === '/hook/manager', 1, DELAY_S * 1000 + 15_000);
    await http.until('tier 2 SMS', (r) => keyOf(r).endsWith(':1:0:sms:manager'));
    expect(tier2.at).toBeGreaterThanOrEqual(due);
    expect(tier2.at - due, 'tier 2 told this long after it was due').toBeLessThan(3000);

    // The restarted ingest stores the agent's next re-send: it notifies nobody.
    await ingest.waitForLine('"msg":"ALARM RAISED from sim-001"', ingest.runStart, RESEND_S * 1000 + 5000);
    await sleep(500);
    const keys = [...http.requests.map(keyOf), ...smtp.mails.map((m) => m.headers['x-nrec-idempotency-key'])].sort();
    const alarmId = String(row.alarm_id);
    expect(keys).toEqual([
      `sim-001/${alarmId}:0:0:email:ward`, `sim-001/${alarmId}:0:0:sms:ward`, `sim-001/${alarmId}:0:0:webhook:ward`,
      `sim-001/${alarmId}:1:0:sms:manager`, `sim-001/${alarmId}:1:0:webhook:manager`,
    ]);
    let attempts: string[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
      attempts = (await store.select('SELECT key, result FROM desk_attempts ORDER BY key')).map((a) => `${String(a.key)} ${String(a.result)}`);
      if (!attempts.some((a) => a.endsWith(' pending'))) break;
    }
    expect(attempts).toEqual(keys.map((k) => `${k} sent`));
    expect(ingest.logs('alarm not acknowledged: escalating to the next tier')).toHaveLength(1);
    // Both runs logged every notification; no secret of the contacts file is in any line.
    expect(ingest.logs('alarm notification sent')).toHaveLength(5);
    for (const secret of [WEBHOOK_SECRET, SMTP_USER.pass, SMS_TOKEN]) expect(ingest.lines.filter((l) => l.includes(secret))).toEqual([]);
  });
});
