// The alarm button's state reaches the platform in the health report, and a
// button that cannot be opened says why (a libgpiod v1 gpiofind that finds no
// line of the name prints nothing; the reason used to end in a bare colon).
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { Cleanup, World, waitFor } from './support/index.js';

const logger = createLogger('test', { level: 'warn' });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The first message the ingest stored (or will store) for the world's device on `stream` that passes `test`. */
function stored<T>(world: World, stream: string, test: (m: T) => boolean): Promise<T> {
  return waitFor(`a ${stream} message`, () => readStream<T>(world.storeDir, world.deviceId, stream).map((r) => r.m).find(test), 30_000);
}

interface Health { states: { button?: { state: string; backend: string; line: string | number; reason?: string } } }

describe('alarm button state', () => {
  it('a working button is reported ok in the health report', async () => {
    const world = cleanup.add(await World.create({ logger }), (w) => w.close());
    const h = await stored<Health>(world, 'health', (m) => m.states.button?.state === 'ok');
    expect(h.states.button).toEqual({ state: 'ok', backend: 'sysfs', chip: 'gpiochip0', line: 17 });
  });

  it('a line name gpiofind does not know: the fault names the cause and the fix, in the event and in the health report', async () => {
    const world = cleanup.add(await World.create({ logger, buttonBackend: 'gpiod-v1', agentConfig: { button: { line: 'NOSUCH' } } }), (w) => w.close());
    const event = await stored<{ kind: string; message: string }>(world, 'event', (m) => m.kind === 'button.fault');
    expect(event.message).toBe('alarm button unavailable: GPIO line "NOSUCH" not found: no GPIO chip has a line of that name (gpiofind exit 1); list the line names with gpioinfo, or set button.line to the line\'s offset');
    const h = await stored<Health>(world, 'health', (m) => m.states.button?.state === 'fault');
    expect(h.states.button).toMatchObject({ state: 'fault', backend: 'gpiod', line: 'NOSUCH', reason: expect.stringContaining('no GPIO chip has a line of that name') });
  });
});
