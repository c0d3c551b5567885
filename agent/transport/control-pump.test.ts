import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { waitFor } from '../../test/support/wait.js';
import { ControlPump } from './control-pump.js';
import { MqttSession } from './mqtt-session.js';
import { Outbox } from './outbox.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const logger = createLogger('test', { level: 'silent' });

describe('ControlPump.resendNow', () => {
  // The platform's "online" can be processed before the PUBACK of a publish that reached the
  // broker while nobody was subscribed (seen 1 in ~15 runs of the broker-kill test: a backlog batch
  // sent right after the reconnect). Here the broker holds that PUBACK on purpose until the
  // device has been told the platform is back.
  it('sends again at once a publish whose PUBACK was still outstanding when the platform came back, not after the confirmation timeout', async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer((s) => aedes.handle(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.add(undefined, () => new Promise<void>((r) => aedes.close(() => server.close(() => r()))));
    const received: string[] = [];
    let held: (() => void) | undefined;
    aedes.authorizePublish = (client, packet, cb) => {
      if (client === null || !packet.topic.endsWith('/alarm')) return cb(null);
      received.push(packet.payload.toString());
      if (received.length === 1) held = () => cb(null); // the first PUBACK waits
      else cb(null);
    };
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const session = new MqttSession({ url, clientId: 'dev-pump', protocolVersion: 4, keepaliveS: 30, backoffMinMs: 100, backoffMaxMs: 500, logger });
    cleanup.add(session, (s) => s.stop(false));
    const dir = cleanup.add(await makeTempDir('nrec-pump-'), (d) => d.remove());
    const outbox = cleanup.add(Outbox.open(dir.file('outbox.db')), (o) => o.close());
    // Default confirmation timeout (20 s): a re-send within the test's wait can only come from resendNow.
    const pump = cleanup.add(new ControlPump(outbox, session, logger, () => undefined, 100), (p) => p.dispose());
    session.start();
    await once(session, 'connect');
    await outbox.put({ lane: 'alarm', topic: 'nrec/v1/dev-pump/alarm', payload: Buffer.from('sos-1'), msgId: 'b-alarm-1' });
    pump.kick();
    await waitFor('the alarm at the broker, its PUBACK held', () => held ?? undefined);

    expect(pump.resendNow(), 'the publish waiting for its PUBACK counts as sent again').toBe(1);
    held!();
    await waitFor('the alarm published again', () => received.length >= 2 || undefined, 3000, 20);
    expect(received).toEqual(['sos-1', 'sos-1']);
    // Once the platform confirms it, it is gone and not sent a third time.
    pump.confirm(['b-alarm-1']);
    await waitFor('the outbox empty', () => outbox.stats().alarm.count === 0 || undefined, 3000, 20);
  });
});
