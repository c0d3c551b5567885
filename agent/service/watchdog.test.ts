import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ManualScheduler } from '../../lib/scheduler.js';
import { watchdogIntervalMs, type Notifier } from './notify.js';
import { Watchdog } from './watchdog.js';
import { WedgeDetector } from './wedge.js';

const logger = pino({ level: 'silent' });

function recorder(): Notifier & { sent: string[] } {
  const sent: string[] = [];
  return { enabled: true, sent, notify: async (...s: string[]) => void sent.push(...s) };
}

describe('Watchdog', () => {
  it('pings at half the period while healthy and withholds pings while a reason is given', () => {
    const sched = new ManualScheduler();
    const n = recorder();
    let reason: string | undefined;
    const wd = new Watchdog({ notifier: n, intervalMs: 10_000, scheduler: sched, logger, unhealthy: () => reason });
    wd.start();
    expect(n.sent).toEqual(['WATCHDOG=1']);
    sched.advance(4999);
    expect(n.sent.length).toBe(1);
    sched.advance(1);
    expect(n.sent.length).toBe(2);
    reason = 'transport wedged';
    sched.advance(20_000);
    expect(n.sent.length).toBe(2);
    reason = undefined;
    sched.advance(5000);
    expect(n.sent.length).toBe(3);
    wd.stop();
    sched.advance(50_000);
    expect(n.sent.length).toBe(3);
  });
});

describe('WedgeDetector', () => {
  it('is wedged only when connected, messages wait, none is in flight and nothing moves for the limit', () => {
    const w = new WedgeDetector(60_000);
    const stuck = { connected: true, waiting: 3, inFlight: 0, progress: 'a' };
    expect(w.wedged(stuck, 0)).toBe(false);
    expect(w.wedged(stuck, 59_999)).toBe(false);
    expect(w.wedged(stuck, 60_000)).toBe(true);
    // Progress resets it.
    expect(w.wedged({ ...stuck, progress: 'b' }, 61_000)).toBe(false);
    expect(w.wedged({ ...stuck, progress: 'b' }, 120_000)).toBe(false);
    expect(w.wedged({ ...stuck, progress: 'b' }, 121_000)).toBe(true);
  });

  it('never calls a link that is down, an empty outbox, or messages awaiting the platform wedged', () => {
    const w = new WedgeDetector(1000);
    for (let t = 0; t < 10_000; t += 500) expect(w.wedged({ connected: false, waiting: 5, inFlight: 0, progress: 'x' }, t)).toBe(false);
    for (let t = 10_000; t < 20_000; t += 500) expect(w.wedged({ connected: true, waiting: 0, inFlight: 0, progress: 'x' }, t)).toBe(false);
    // The ingest is down: the window is out, the rest waits for acknowledgements that do not come.
    for (let t = 20_000; t < 30_000; t += 500) expect(w.wedged({ connected: true, waiting: 40, inFlight: 8, progress: 'x' }, t)).toBe(false);
  });
});

describe('watchdogIntervalMs', () => {
  it('reads WATCHDOG_USEC for this process only', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(30_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(30_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
  });
});
