// Two ingest workers, each with its own alarm desk, on one PostgreSQL
// database, splitting a Mosquitto shared subscription ($share/nrec/…). A
// device raises an alarm and re-sends it five times with a rising escalation,
// every other message published twice (as a re-send after a lost
// acknowledgement would), so both workers store some of them and both desks see the alarm.
// Each escalation step claims itself in the database, so every contact is
// told once per step: each idempotency key arrives once at the receivers,
// and the stored attempts match what arrived.
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { deviceTopic } from '../protocol/index.js';
import { IDEMPOTENCY_HEADER, type DeskAlarm } from '../platform/desk/index.js';
import { makeTestPki, type TestPki } from './support/certs.js';
import { SMTP_USER, startDeskIngest, writeDeskContacts } from './support/desk.js';
import { PostgresCluster } from './support/postgres.js';
import { HttpReceiver, SmtpReceiver } from './support/receivers.js';
import { Cleanup, makeTempDir, Mosquitto, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
let pki: TestPki;
let pg: PostgresCluster;
beforeAll(async () => {
  pki = await makeTestPki([]);
  pg = await PostgresCluster.start();
});
afterAll(async () => {
  await pki.remove();
  await pg.dispose();
});

const DEVICE = 'ward3-007';

describe('alarm desks on two ingest workers sharing one database', () => {
  it('notify each contact once per escalation step, whatever worker got which re-send', async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir('nrec-desk-workers-'), (d) => d.remove());
    const http = cleanup.add(await HttpReceiver.start(), (h) => h.close());
    const smtp = cleanup.add(await SmtpReceiver.start({ keyFile: pki.server.key, certFile: pki.server.cert }, SMTP_USER), (s) => s.close());
    const contactsFile = await writeDeskContacts(dir, { http, smtp, pki }, { delayS: 2, repeatS: 3, deviceId: DEVICE });
    const db = await pg.createDatabase();
    const workers = [];
    for (const name of ['w1', 'w2']) {
      workers.push(cleanup.add(await startDeskIngest({ brokerUrl: mosquitto.url, storeDir: dir.file(name), db, contactsFile, logger, shareGroup: 'nrec', clientId: `nrec-ingest-${name}` }), (w) => w.stop()));
    }
    const storedBy = workers.map(() => 0);
    workers.forEach((w, i) => w.ingest.on('stored', (_d, stream) => {
      if (stream === 'alarm') storedBy[i]++;
    }));
    const changes: DeskAlarm[][] = workers.map(() => []);
    workers.forEach((w, i) => w.desk.on('change', (a) => changes[i].push(a)));

    const device = cleanup.add(await mqtt.connectAsync(mosquitto.url, { clientId: DEVICE, protocolVersion: 4, clean: false }), (c) => c.endAsync());
    const bootId = 'boot-w';
    const raisedAt = Date.now();
    const alarmId = 'sos-workers-1';
    for (let seq = 0; seq <= 5; seq++) {
      const msg = JSON.stringify({ v: 1, id: `${bootId}-alarm-${seq}`, deviceId: DEVICE, bootId, seq, ts: Date.now(), alarmId, state: 'raised', trigger: 'button', raisedAt, escalation: seq });
      // Every other one twice: the shared subscription then hands new messages to both workers.
      for (let copy = 0; copy < (seq % 2 === 0 ? 2 : 1); copy++) await device.publishAsync(deviceTopic(DEVICE, 'alarm'), msg, { qos: 1 });
      await new Promise((r) => setTimeout(r, 800));
    }
    // Steps at 0 s (tier 1), 2 s (tier 2), 5 s (tier 2 again): wait for the third.
    await http.until('the repeat of tier 2', (r) => r.headers[IDEMPOTENCY_HEADER] === `${DEVICE}/${alarmId}:1:1:webhook:manager`, 1, 20_000);
    await http.until('the repeat of tier 2 by SMS', (r) => r.headers[IDEMPOTENCY_HEADER] === undefined && (JSON.parse(r.body) as { ref: string }).ref === `${DEVICE}/${alarmId}:1:1:sms:manager`, 1, 10_000);
    const ack = await workers[1].desk.acknowledge(DEVICE, alarmId, 'Anna');
    expect(ack).toMatchObject({ ok: true });
    expect((await workers[0].desk.acknowledge(DEVICE, alarmId, 'Bob'))).toMatchObject({ ok: true, already: true, alarm: { acknowledgedBy: 'Anna' } });
    for (const w of workers) await w.desk.settled();

    expect(storedBy.every((n) => n > 0), `alarm messages stored per worker: ${storedBy.join(', ')}`).toBe(true);
    expect(storedBy[0] + storedBy[1]).toBe(6);

    const keys = [
      ...http.requests.map((r) => (r.url === '/sms' ? (JSON.parse(r.body) as { ref: string }).ref : String(r.headers[IDEMPOTENCY_HEADER]))),
      ...smtp.mails.map((m) => m.headers['x-nrec-idempotency-key']),
    ].sort();
    const expected = [
      `${DEVICE}/${alarmId}:0:0:email:ward`, `${DEVICE}/${alarmId}:0:0:sms:ward`, `${DEVICE}/${alarmId}:0:0:webhook:ward`,
      `${DEVICE}/${alarmId}:1:0:sms:manager`, `${DEVICE}/${alarmId}:1:0:webhook:manager`,
      `${DEVICE}/${alarmId}:1:1:sms:manager`, `${DEVICE}/${alarmId}:1:1:webhook:manager`,
    ];
    expect(keys).toEqual(expected);
    const alarm = (await workers[0].desk.get(DEVICE, alarmId))!;
    expect(alarm.attempts.map((a) => a.key).sort()).toEqual(expected);
    expect(alarm.attempts.every((a) => a.result === 'sent')).toBe(true);
    expect(alarm).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'Anna', resends: 5 });
    // Each desk saw the acknowledgement, whichever made it.
    await waitFor('both desks announcing the acknowledgement', () => changes.every((c) => c.some((a) => a.state === 'acknowledged')), 10_000);
  });
});
