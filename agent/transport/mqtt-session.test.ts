import { once } from 'node:events';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { Mosquitto } from '../../test/support/mosquitto.js';
import { waitFor } from '../../test/support/wait.js';
import { MqttSession, type SessionOptions } from './mqtt-session.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const logger = createLogger('test', { level: 'silent' });

describe('MqttSession beforeAck', () => {
  it('sends the PUBACK only after beforeAck is done: a message whose beforeAck never finished is delivered again to the next session', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const seen: string[] = [];
    const session = (beforeAck: SessionOptions['beforeAck']) => {
      const s = new MqttSession({
        url: broker.url, clientId: 'dev-ack', protocolVersion: 4, keepaliveS: 30, backoffMinMs: 100, backoffMaxMs: 500, logger,
        onConnect: (x) => x.subscribe('nrec/v1/dev-ack/cmd/#'),
        beforeAck,
      });
      cleanup.add(s, (x) => x.stop(false));
      return s;
    };
    // The first session records nothing durable in time: its beforeAck never finishes (a crash mid-write).
    const first = session((_t, p) => {
      seen.push(`first:${p.toString()}`);
      return new Promise<void>(() => undefined);
    });
    first.start();
    await once(first, 'connect');
    const platform = cleanup.add(await mqtt.connectAsync(broker.url, { clientId: 'platform' }), (c) => c.endAsync());
    await platform.publishAsync('nrec/v1/dev-ack/cmd/req', 'one', { qos: 1 });
    await waitFor('the first delivery', () => seen.includes('first:one') || undefined);
    await first.stop(false); // the connection drops without a PUBACK

    const second = session((_t, p) => {
      seen.push(`second:${p.toString()}`);
    });
    second.start();
    await waitFor('the redelivery', () => seen.includes('second:one') || undefined, 10_000);

    // With beforeAck done, the PUBACK goes out: a third session gets nothing again.
    await platform.publishAsync('nrec/v1/dev-ack/cmd/req', 'two', { qos: 1 });
    await waitFor('the second message', () => seen.includes('second:two') || undefined);
    await second.stop(false);
    const third = session((_t, p) => {
      seen.push(`third:${p.toString()}`);
    });
    third.start();
    await once(third, 'connect');
    await platform.publishAsync('nrec/v1/dev-ack/cmd/req', 'three', { qos: 1 });
    await waitFor('a message after the reconnect', () => seen.includes('third:three') || undefined);
    expect(seen).toEqual(['first:one', 'second:one', 'second:two', 'third:three']);
  });
});
