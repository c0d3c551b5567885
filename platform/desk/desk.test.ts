import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { ManualScheduler } from '../../lib/scheduler.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { CommandSender } from '../commands/command-sender.js';
import type { IngestEvents } from '../ingest/ingest.js';
import { openStore } from '../store/open-store.js';
import { T0, TestDevice } from '../store/store-fixtures.js';
import type { PlatformStore } from '../store/types.js';
import type { Channel, ChannelSet, SendOutcome } from './channels/index.js';
import type { ContactBook, Target } from './contacts/book.js';
import { parseContacts } from './contacts/load.js';
import { AlarmDesk, commandRequestId, type ContactsSource } from './desk.js';
import type { Notice } from './notice.js';
import type { DeskAlarm } from './types.js';

const logger = createLogger('test', { level: 'silent' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const S = 1000;

/** Two tiers a few seconds apart, the last one repeated: a webhook and an e-mail for tier 1, an SMS and the console for tier 2. */
const CONTACTS = {
  acknowledge: { consoleUrl: 'https://nrec.example/console/#/alarms/{deviceId}/{alarmId}' },
  channels: {
    webhook: { secretFile: 'webhook.secret' },
    email: { host: 'smtp.example', from: 'nrec <alarms@nrec.example>' },
    sms: { url: 'https://sms.example/send', body: '{"to":"{to}","text":"{text}"}' },
  },
  contacts: {
    ward: { name: 'Ward 3 station', channels: [{ type: 'webhook', url: 'https://hooks.example/ward3' }, { type: 'email', to: 'ward3@example.org' }] },
    anna: { name: 'Anna (charge nurse)', channels: [{ type: 'sms', to: '+4915112345678' }, { type: 'console' }] },
  },
  escalation: { tiers: [{ contacts: ['ward'], delayS: 10 }, { contacts: ['anna'] }], repeatS: 30 },
  devices: { 'dev-1': { name: 'Maria K.' } },
};

async function book(cfg: unknown = CONTACTS): Promise<ContactBook> {
  return parseContacts(JSON.stringify(cfg), '/etc/nrec/contacts.json', { readSecret: async () => ({ text: 's'.repeat(32), mode: 0o600 }) });
}

class Contacts extends EventEmitter<{ reload: [ContactBook] }> implements ContactsSource {
  constructor(public current: ContactBook) {
    super();
  }

  replace(b: ContactBook): void {
    this.current = b;
    this.emit('reload', b);
  }
}

interface Sent { channel: string; key: string; notice: Notice; target: Target }

/** Channels at the boundary: each send is recorded; `hold` makes sends hang (a desk dying mid-send). */
class Recorder {
  readonly sent: Sent[] = [];
  hold = false;
  readonly set: ChannelSet;

  constructor() {
    const make = <K extends Target['channel']>(kind: K): Channel<Extract<Target, { channel: K }>> => ({
      kind,
      send: (notice: Notice, target: Extract<Target, { channel: K }>): Promise<SendOutcome> => {
        if (this.hold) return new Promise(() => undefined);
        this.sent.push({ channel: kind, key: notice.key, notice, target });
        return Promise.resolve({ tries: 1, detail: 'ok' });
      },
    });
    this.set = { webhook: make('webhook'), email: make('email'), sms: make('sms'), console: make('console') };
  }

  keys(): string[] {
    return this.sent.map((s) => s.key).sort();
  }
}

/** The ingest at its boundary: alarms and results are committed to the real store and announced as the ingest does. */
class FakeIngest extends EventEmitter<IngestEvents> {
  readonly published: Array<{ deviceId: string; name: string; args: Record<string, unknown>; id: string }> = [];
  constructor(readonly store: PlatformStore, readonly clock: ManualScheduler) {
    super();
  }

  async sendCommand(deviceId: string, name: string, args: Record<string, unknown>, _ttlMs: number, id: string): Promise<string> {
    this.published.push({ deviceId, name, args, id });
    return id;
  }

  async deliver(m: ReturnType<TestDevice['alarm']>, ...others: FakeIngest[]): Promise<void> {
    const { stored } = await this.store.commit([{ ...m, rx: this.clock.now() }], []);
    if (!stored[0]) return;
    for (const i of [this, ...others]) i.emit('stored', m.deviceId, m.stream, m.msg);
  }
}

async function world(o: { url?: string; contacts?: Contacts; clock?: ManualScheduler; recorder?: Recorder } = {}) {
  let url = o.url;
  if (url === undefined) url = `sqlite:${cleanup.add(await makeTempDir('nrec-desk-'), (d) => d.remove()).file('platform.db')}`;
  const store = cleanup.add(await openStore(url), (s) => s.close());
  const clock = o.clock ?? new ManualScheduler(T0);
  const ingest = new FakeIngest(store, clock);
  const commands = cleanup.add(new CommandSender({ store, ingest, logger, clock }), (c) => c.stop());
  await commands.start();
  const contacts = o.contacts ?? new Contacts(await book());
  const recorder = o.recorder ?? new Recorder();
  const desk = cleanup.add(new AlarmDesk({ store, ingest, commands, contacts, logger, clock, channels: recorder.set, leaseMs: 60 * S, stopWaitMs: 100 }), (d) => d.stop());
  const changes: DeskAlarm[] = [];
  desk.on('change', (a) => changes.push(a));
  await desk.start();
  return { url, store, clock, ingest, commands, contacts, recorder, desk, changes };
}

type World = Awaited<ReturnType<typeof world>>;

/** Moves the clock, lets each desk look at the database and finish its notifications. */
async function advance(ms: number, ...ws: World[]): Promise<void> {
  ws[0].clock.advance(ms);
  for (const w of ws) await w.desk.poll();
  for (const w of ws) await w.desk.settled();
}


describe('alarm desk', () => {
  it('notifies tier 1 at once, escalates to tier 2 after its delay, repeats it, and stops when acknowledged; alarm.ack goes to the device', async () => {
    const w = await world();
    const d = new TestDevice('dev-1');
    await w.ingest.deliver(d.alarm('a-1', 'raised', 0, { fix: { lat: 52.52, lon: 13.405, time: T0 - 40 * S, fixType: '3d', accuracyM: 8 }, batteryPct: 71 }));
    await w.desk.settled();
    expect(w.recorder.keys()).toEqual(['dev-1/a-1:0:0:email:ward', 'dev-1/a-1:0:0:webhook:ward']);
    const n = w.recorder.sent[0].notice;
    expect(n).toMatchObject({ deviceId: 'dev-1', deviceName: 'Maria K.', alarmId: 'a-1', tier: 0, attempt: 0, batteryPct: 71, position: { lat: 52.52, lon: 13.405, accuracyM: 8, ageS: 40, source: 'alarm' } });
    expect(n.mapUrl).toBe('https://www.openstreetmap.org/?mlat=52.520000&mlon=13.405000#map=18/52.520000/13.405000');
    expect(n.acknowledge.consoleUrl).toBe('https://nrec.example/console/#/alarms/dev-1/a-1');
    expect(n.text).toContain('SOS from Maria K. (dev-1).');
    expect(n.text).toContain('Last position: 52.520000, 13.405000 ±8 m, 40 s old');
    let a = (await w.desk.get('dev-1', 'a-1'))!;
    expect(a).toMatchObject({ state: 'notifying', deviceState: 'raised', tier: 0, nextStepAt: T0 + 10 * S, receivedAt: T0 });
    expect(a.attempts.map((x) => [x.channel, x.result, x.recipient])).toEqual([['email', 'sent', 'Ward 3 station <ward3@example.org>'], ['webhook', 'sent', 'Ward 3 station <hooks.example>']]);

    await advance(9999, w);
    expect(w.recorder.sent).toHaveLength(2);
    await advance(1, w);
    expect(w.recorder.sent.slice(2).map((s) => s.key).sort()).toEqual(['dev-1/a-1:1:0:console:anna', 'dev-1/a-1:1:0:sms:anna']);
    await advance(30 * S, w);
    expect(w.recorder.sent.slice(4).map((s) => s.key).sort()).toEqual(['dev-1/a-1:1:1:console:anna', 'dev-1/a-1:1:1:sms:anna']);

    const r = await w.desk.acknowledge('dev-1', 'a-1', 'Anna');
    expect(r).toMatchObject({ ok: true, already: false, alarm: { state: 'acknowledged', acknowledgedBy: 'Anna', acknowledgedAt: T0 + 40 * S } });
    expect(w.ingest.published).toEqual([{ deviceId: 'dev-1', name: 'alarm.ack', args: { alarmId: 'a-1' }, id: commandRequestId('ack', 'dev-1', 'a-1') }]);
    await advance(600 * S, w);
    expect(w.recorder.sent).toHaveLength(6);

    // The device answers, then reports its alarm acknowledged.
    const result = d.result(commandRequestId('ack', 'dev-1', 'a-1'), 'ok', { rx: w.clock.now(), result: { alarmId: 'a-1', state: 'acknowledged' } });
    await w.store.commit([result], []);
    w.ingest.emit('stored', 'dev-1', 'result', result.msg);
    await w.ingest.deliver(d.alarm('a-1', 'acknowledged', 3));
    await w.desk.poll();
    a = (await w.desk.get('dev-1', 'a-1'))!;
    expect(a).toMatchObject({ state: 'acknowledged', deviceState: 'acknowledged', deviceAcknowledgedAt: T0 + 640 * S, ackCommand: { requestId: commandRequestId('ack', 'dev-1', 'a-1'), status: 'ok' } });
    expect(a.nextStepAt).toBeUndefined();
    expect(a.history.map((h) => [h.state, h.by])).toEqual([['raised', undefined], ['notifying', undefined], ['acknowledged', 'Anna']]);
    expect(w.changes.at(-1)).toEqual(a);

    const before = w.ingest.published.length;
    expect(await w.desk.acknowledge('dev-1', 'a-1', 'Bob')).toMatchObject({ ok: true, already: true, alarm: { acknowledgedBy: 'Anna' } });
    expect(w.ingest.published).toHaveLength(before);
    const res = await w.desk.resolve('dev-1', 'a-1', 'Anna', 'found on the stairs, fine');
    expect(res).toMatchObject({ ok: true, already: false, alarm: { state: 'resolved', resolvedBy: 'Anna', note: 'found on the stairs, fine' } });
    // alarm.ack went again (same request id) until the device answered; then alarm.resolve.
    expect([...new Set(w.ingest.published.map((p) => `${p.name} ${p.id}`))]).toEqual([`alarm.ack ${commandRequestId('ack', 'dev-1', 'a-1')}`, `alarm.resolve ${commandRequestId('res', 'dev-1', 'a-1')}`]);
    expect((await w.desk.list({ open: false })).map((x) => x.alarmId)).toEqual(['a-1']);
    expect(await w.desk.list({ open: true })).toEqual([]);
  });

  it('never notifies twice for re-sends of the same alarm', async () => {
    const w = await world();
    const d = new TestDevice('dev-1');
    for (let e = 0; e <= 5; e++) {
      await w.ingest.deliver(d.alarm('a-2', 'raised', e));
      await advance(2 * S, w);
    }
    await advance(1, w);
    expect(w.recorder.keys()).toEqual(['dev-1/a-2:0:0:email:ward', 'dev-1/a-2:0:0:webhook:ward', 'dev-1/a-2:1:0:console:anna', 'dev-1/a-2:1:0:sms:anna']);
    expect((await w.desk.get('dev-1', 'a-2'))?.resends).toBe(5);
  });

  it('two desks on one database, both seeing every message: each step is notified once', async () => {
    const one = await world();
    const two = await world({ url: one.url, clock: one.clock, contacts: one.contacts });
    const d = new TestDevice('dev-1');
    for (let e = 0; e < 5; e++) await one.ingest.deliver(d.alarm('a-3', 'raised', e), two.ingest);
    await Promise.all([one.desk.settled(), two.desk.settled()]);
    for (let i = 0; i < 8; i++) {
      one.clock.advance(5 * S);
      await Promise.all([one.desk.poll(), two.desk.poll(), one.desk.poll(), two.desk.poll()]);
      await Promise.all([one.desk.settled(), two.desk.settled()]);
    }
    const all = [...one.recorder.sent, ...two.recorder.sent].map((s) => s.key).sort();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual([
      'dev-1/a-3:0:0:email:ward', 'dev-1/a-3:0:0:webhook:ward', 'dev-1/a-3:1:0:console:anna', 'dev-1/a-3:1:0:sms:anna',
      'dev-1/a-3:1:1:console:anna', 'dev-1/a-3:1:1:sms:anna',
    ]);
    // Both desks saw the alarm change, whichever notified.
    expect(one.changes.at(-1)?.attempts).toHaveLength(6);
    expect(two.changes.at(-1)?.attempts).toHaveLength(6);
  });

  it('a desk that stopped mid-escalation is carried on by the next one on schedule, without repeating a step', async () => {
    const clock = new ManualScheduler(T0);
    const first = await world({ clock });
    await first.ingest.deliver(new TestDevice('dev-1').alarm('a-4', 'raised', 0));
    await first.desk.settled();
    await first.desk.stop(); // as good as a kill for the schedule: nothing of it is in memory
    clock.advance(4 * S);
    const second = await world({ url: first.url, clock });
    expect(second.recorder.sent).toEqual([]);
    await advance(5999, second);
    expect(second.recorder.sent).toEqual([]);
    await advance(1, second);
    expect([...first.recorder.keys(), ...second.recorder.keys()]).toEqual(['dev-1/a-4:0:0:email:ward', 'dev-1/a-4:0:0:webhook:ward', 'dev-1/a-4:1:0:console:anna', 'dev-1/a-4:1:0:sms:anna']);
    expect(second.recorder.sent.every((s) => s.notice.tier === 1)).toBe(true);
  });

  it('sends again, under the same key, what a desk claimed and never finished once its lease ran out', async () => {
    const clock = new ManualScheduler(T0);
    const stuck = new Recorder();
    stuck.hold = true;
    const first = await world({ clock, recorder: stuck });
    await first.ingest.deliver(new TestDevice('dev-1').alarm('a-5', 'raised', 0));
    await first.desk.poll();
    expect((await first.desk.get('dev-1', 'a-5'))?.attempts.map((a) => a.result)).toEqual(['pending', 'pending']);
    const second = await world({ url: first.url, clock });
    await advance(5 * S, second);
    expect(second.recorder.sent).toEqual([]);
    await advance(5 * S, second);
    // Tier 2's repeat at 40 s, and the lease (60 s) of tier 1's notifications ends: they go out again.
    await advance(51 * S, second);
    expect(second.recorder.keys()).toEqual(['dev-1/a-5:0:0:email:ward', 'dev-1/a-5:0:0:webhook:ward', 'dev-1/a-5:1:0:console:anna', 'dev-1/a-5:1:0:sms:anna', 'dev-1/a-5:1:1:console:anna', 'dev-1/a-5:1:1:sms:anna']);
    expect((await second.desk.get('dev-1', 'a-5'))?.attempts.every((a) => a.result === 'sent')).toBe(true);
  });

  it('follows the wearer\'s cancel; refuses to acknowledge a cancelled or unknown alarm with a reason', async () => {
    const w = await world();
    const d = new TestDevice('dev-1');
    await w.ingest.deliver(d.alarm('a-6', 'raised', 0));
    await w.desk.settled();
    await w.ingest.deliver(d.alarm('a-6', 'cancelled', 0));
    await advance(100 * S, w);
    expect(w.recorder.sent).toHaveLength(2);
    expect(await w.desk.get('dev-1', 'a-6')).toMatchObject({ state: 'cancelled', deviceState: 'cancelled' });
    expect(await w.desk.acknowledge('dev-1', 'a-6', 'Anna')).toMatchObject({ ok: false, code: 'not-open' });
    expect(await w.desk.acknowledge('dev-1', 'nope', 'Anna')).toEqual({ ok: false, code: 'unknown-alarm', reason: 'no alarm "nope" of device "dev-1" is stored' });
    expect(await w.desk.acknowledge('dev-1', 'a-6', ' ')).toMatchObject({ ok: false, code: 'invalid' });
    expect(await w.desk.resolve('dev-1', 'a-6', 'Anna', '')).toMatchObject({ ok: false, code: 'invalid' });
    expect(w.ingest.published).toEqual([]);
  });

  it('an alarm.ack sent past the desk stops the escalation; an alarm the desk never saw is taken on when acknowledged', async () => {
    const w = await world();
    const d = new TestDevice('dev-1');
    await w.ingest.deliver(d.alarm('a-7', 'raised', 0));
    await w.desk.settled();
    await w.ingest.deliver(d.alarm('a-7', 'acknowledged', 1));
    await advance(100 * S, w);
    expect(await w.desk.get('dev-1', 'a-7')).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'device', deviceAcknowledgedAt: T0 });
    expect(w.recorder.sent).toHaveLength(2);

    await w.store.commit([d.alarm('a-8', 'raised', 0, { rx: w.clock.now() })], []); // stored, never announced
    expect(await w.desk.acknowledge('dev-1', 'a-8', 'Anna')).toMatchObject({ ok: true, already: false, alarm: { state: 'acknowledged' } });
  });

  it('tells nobody (and says so) when no escalation covers a device, and starts once a reloaded file has one', async () => {
    const contacts = new Contacts(await book({ ...CONTACTS, escalation: undefined }));
    const w = await world({ contacts });
    await w.ingest.deliver(new TestDevice('dev-9').alarm('a-9', 'raised', 0));
    await advance(20 * S, w);
    expect(w.recorder.sent).toEqual([]);
    expect(await w.desk.get('dev-9', 'a-9')).toMatchObject({ state: 'raised' });
    contacts.replace(await book({ ...CONTACTS, groups: { night: { devices: ['dev-9'], escalation: { tiers: [{ contacts: ['anna'] }] } } } }));
    await advance(0, w);
    expect(w.recorder.keys()).toEqual(['dev-9/a-9:0:0:console:anna', 'dev-9/a-9:0:0:sms:anna']);
  });
});
