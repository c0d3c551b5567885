// A camera that is not there: the recorder retries it with backoff (500 ms,
// doubling to 30 s) and each retry fails the same way. The platform must hear
// of the fault once, not once per retry (a field device sent 30 events in 13
// minutes). Asserted at the far end: after several failed retries, the ingest
// has exactly one recorder.fault event for the device. The barrier is a
// health report made after the last retry: it travels on the same lane as
// events, behind them, so once it is stored every earlier event is too.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, World, nextStored, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('a missing camera', () => {
  it('is reported to the platform once while the recorder keeps retrying', async () => {
    const world = cleanup.add(await World.create({
      logger,
      agentConfig: {
        logLevel: 'debug',
        media: { enabled: true, profile: 'usb', videoDevice: '/dev/nrec-test-no-such-camera', audio: false },
        health: { intervalS: 1 },
      },
    }), (w) => w.close());
    const first = await nextStored<{ kind: string; message: string }>(world.ingest, 'event', (m) => m.kind === 'recorder.fault', 30_000);
    expect(first.message).toBe('recorder: camera /dev/nrec-test-no-such-camera not present');
    // Three more failed retries (≈ 0.5 + 1 + 2 s of backoff): before the fix, three more events.
    const failures = () => world.agent.lines.filter((l) => l.includes('"recorder":"fault"'));
    await waitFor('four failed camera attempts in the agent log', () => failures().length >= 4, 30_000);
    const after = (JSON.parse(failures()[3]) as { time: number }).time;
    await nextStored<{ ts: number }>(world.ingest, 'health', (m) => m.ts > after + 100, 30_000);
    const faults = readStream<{ kind: string }>(world.storeDir, world.deviceId, 'event').filter((e) => e.m.kind === 'recorder.fault');
    expect(faults).toHaveLength(1);
    // The agent's own log says it once at warn too; the retries are at debug.
    expect(world.agent.lines.filter((l) => l.includes('"msg":"recorder fault"'))).toHaveLength(1);
  });
});
