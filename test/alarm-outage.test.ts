// An SOS raised while the broker is down reaches the platform first when the
// broker returns: before every location that queued during the outage (the
// ones queued before the press as well as after it).
//
// "Queued during the outage" is read from the agent's own outbox (SQLite,
// opened read-only) just before the broker restarts; "first" is the order of
// the ingest's 'stored' events, which is also the order it appended to its files.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, makeTempDir, Mosquitto, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Alarm { id: string; alarmId: string; state: string; escalation: number }

describe('alarm across a broker outage', () => {
  it('an SOS raised while the broker is down arrives before the locations queued around it', async () => {
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const dir = cleanup.add(await makeTempDir('nrec-alarm-'), (d) => d.remove());
    const world = cleanup.add(
      // 2.4 m per 200 ms epoch with a 1 m displacement threshold: every fix is a report.
      await World.create({
        logger,
        workDir: dir.path,
        brokerUrl: mosquitto.url,
        gpsIntervalMs: 200,
        gpsSpeedMps: 12,
        agentConfig: { gps: { displacementM: 1, minIntervalS: 0, intervalS: 1 }, button: { resendS: 60 } },
      }),
      (w) => w.close(),
    );
    const receipts: string[] = [];
    world.ingest.on('stored', (_d: string, _s: string, m: { id: string }) => receipts.push(m.id));
    await waitFor('live locations before the outage', () => (world.ingest.stats.accepted.location ?? 0) >= 3);
    await world.agent.waitForLine('sysfs watching button line');

    const outbox = cleanup.add(new Database(join(world.workDir, 'agent-data', 'outbox.db'), { readonly: true, fileMustExist: true }), (db) => db.close());
    const queued = (lane: string) => outbox.prepare<[string], { msg_id: string }>('SELECT msg_id FROM outbox WHERE lane = ? ORDER BY row_id').all(lane).map((r) => r.msg_id);

    await mosquitto.stop();
    await world.agent.waitForLine('"msg":"disconnected"');
    await waitFor('locations queued in the outbox', () => queued('location').length >= 5, 20_000, 50);

    await world.pressSos(1700);
    const raisedLine = await world.agent.waitForLine('"msg":"SOS raised"');
    const alarmId = (JSON.parse(raisedLine) as { alarmId: string }).alarmId;
    const [alarmMsgId] = await waitFor('the alarm durable in the outbox', () => {
      const a = queued('alarm');
      return a.length > 0 ? a : undefined;
    }, 10_000, 20);
    const atPress = queued('location').length;
    await waitFor('locations queued after the alarm', () => queued('location').length >= atPress + 3, 20_000, 50);

    const backlog = queued('location');
    expect(queued('alarm'), 'alarm messages queued: only the raise (resendS 60)').toEqual([alarmMsgId]);
    await mosquitto.restart();

    const stored = () => new Set(receipts);
    await waitFor('the alarm and every queued location at the ingest', () => [alarmMsgId, ...backlog].every((id) => stored().has(id)), 30_000, 50);

    const alarmAt = receipts.indexOf(alarmMsgId);
    const late = backlog.filter((id) => receipts.indexOf(id) < alarmAt);
    expect(late, `locations queued during the outage stored before the alarm (alarm was receipt #${alarmAt})`).toEqual([]);
    const alarms = readStream<Alarm>(world.storeDir, world.deviceId, 'alarm').map((r) => r.m);
    expect(alarms.map((a) => [a.id, a.alarmId, a.state, a.escalation])).toEqual([[alarmMsgId, alarmId, 'raised', 0]]);
    expect(world.ingest.stats.rejected).toBe(0);
    // The ingest kept (nothing published while it reconnected was lost) and deduplicated.
    expect(new Set(receipts).size).toBe(receipts.length);
  });
});
