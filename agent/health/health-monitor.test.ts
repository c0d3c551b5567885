import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Health, type HealthBody } from '../../protocol/health.js';
import { Validator } from '../../protocol/validate.js';
import { SysfsPowerSupply } from '../../simulator/power/index.js';
import { ManualScheduler } from '../../lib/scheduler.js';
import { HealthMonitor, type HealthMonitorOptions } from './health-monitor.js';

const validator = new Validator(Health);
const envelope = { v: 1 as const, id: 'm1', deviceId: 'dev-1', bootId: 'boot-1', seq: 0, ts: 1_700_000_000_000 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Rig {
  m: HealthMonitor;
  sched: ManualScheduler;
  power: SysfsPowerSupply;
  dir: string;
  syncFile: string;
  reports: HealthBody[];
  /** Moves time by `ms` and waits for the poll that falls due. */
  poll(ms: number): Promise<void>;
}

async function rig(over: Partial<HealthMonitorOptions> = {}, capacity = 50): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'nrec-health-'));
  const power = new SysfsPowerSupply({ capacity });
  const sched = new ManualScheduler(1_000_000);
  const syncFile = join(dir, 'synchronized');
  const m = new HealthMonitor({
    intervalMs: 10_000,
    pollMs: 1000,
    minChangeGapMs: 0,
    powerSupplyRoot: power.powerSupplyRoot,
    thermalRoot: power.thermalRoot,
    clockSyncFile: syncFile,
    dataDir: dir,
    quotaBytes: 1_000_000,
    scheduler: sched,
    uptime: { system: () => 500, process: () => 20 },
    ...over,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => power.close());
  cleanups.push(() => m.stop());
  const reports: HealthBody[] = [];
  m.on('report', (b: HealthBody) => {
    const v = validator.check({ ...envelope, ...b });
    if (!v.ok) throw new Error(`invalid health body: ${v.errors.join('; ')}`);
    reports.push(b);
  });
  const poll = async (ms: number) => {
    const sampled = once(m, 'sampled');
    sched.advance(ms);
    await sampled;
  };
  m.start();
  await poll(0);
  return { m, sched, power, dir, syncFile, reports, poll };
}

describe('HealthMonitor', () => {
  it('reports at start, then every interval, each a valid Health body', async () => {
    const r = await rig();
    expect(r.reports).toHaveLength(1);
    expect(r.reports[0]).toMatchObject({
      trigger: 'start',
      battery: { pct: 50, status: 'discharging', onExternalPower: false },
      cpuTempC: 45,
      uptimeS: 500,
      agentUptimeS: 20,
      clockSynced: false,
      queues: {},
      states: {},
    });
    expect(r.reports[0]?.storage.freeBytes).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) await r.poll(1000);
    expect(r.reports.map((b) => b.trigger)).toEqual(['start', 'interval', 'interval']);
  });

  it('a battery crossing 20 % reports a change once, not on each later reading around it', async () => {
    const r = await rig({}, 22);
    r.power.setCapacity(20);
    await r.poll(1000);
    expect(r.reports.at(-1)).toMatchObject({ trigger: 'change', changed: ['battery.level'], battery: { pct: 20 } });
    expect(r.m.batteryPct()).toBe(20);
    for (const pct of [21, 20, 19, 21, 18]) {
      r.power.setCapacity(pct);
      await r.poll(1000);
    }
    expect(r.reports.map((b) => b.trigger)).toEqual(['start', 'change']);
    r.power.setCapacity(10);
    await r.poll(1000);
    expect(r.reports.map((b) => b.trigger)).toEqual(['start', 'change', 'change']);
  });

  it('reports plugging in, clock sync and a registered state changing', async () => {
    const r = await rig();
    let gps = 'searching';
    r.m.registerState('gps', () => ({ link: gps }));
    await r.poll(1000);
    expect(r.reports.at(-1)).toMatchObject({ trigger: 'change', changed: ['state.gps'], states: { gps: { link: 'searching' } } });

    r.power.setCharging(true);
    await r.poll(1000);
    expect(r.reports.at(-1)).toMatchObject({ trigger: 'change', changed: ['power.external'], battery: { status: 'charging', onExternalPower: true } });

    writeFileSync(r.syncFile, '');
    await r.poll(1000);
    expect(r.reports.at(-1)).toMatchObject({ trigger: 'change', changed: ['clock.synced'], clockSynced: true });

    gps = 'fix';
    await r.m.check();
    expect(r.reports.at(-1)).toMatchObject({ trigger: 'change', changed: ['state.gps'], states: { gps: { link: 'fix' } } });

    const before = r.reports.length;
    await r.poll(1000);
    expect(r.reports).toHaveLength(before);
  });

  it('merges changes that come faster than minChangeGapMs into one report', async () => {
    const r = await rig({ minChangeGapMs: 5000 });
    let state = 'a';
    r.m.registerState('rec', () => state);
    await r.poll(1000); // state.rec appears: reported at once
    state = 'b';
    await r.poll(1000);
    writeFileSync(r.syncFile, '');
    await r.poll(1000);
    expect(r.reports.map((b) => b.trigger)).toEqual(['start', 'change']);
    for (let i = 0; i < 3; i++) await r.poll(1000);
    expect(r.reports.map((b) => b.trigger)).toEqual(['start', 'change', 'change']);
    expect(r.reports.at(-1)?.changed).toEqual(['state.rec', 'clock.synced']);
  });

  it('reports storage crossing 90 % of the quota', async () => {
    const r = await rig({ quotaBytes: 10_000, storagePollMs: 0 });
    writeFileSync(join(r.dir, 'a'), Buffer.alloc(5000));
    await r.poll(1000);
    expect(r.reports).toHaveLength(1);
    writeFileSync(join(r.dir, 'b'), Buffer.alloc(4200));
    await r.poll(1000);
    expect(r.reports.at(-1)).toMatchObject({ trigger: 'change', changed: ['storage.level'], storage: { usedBytes: 9200, quotaBytes: 10_000 } });
  });

  it('re-walks the data directory only every storagePollMs', async () => {
    const r = await rig({ storagePollMs: 3000 });
    writeFileSync(join(r.dir, 'a'), Buffer.alloc(700));
    await r.poll(1000);
    expect(r.m.snapshot()?.storage.usedBytes).toBe(0);
    await r.poll(1000);
    await r.poll(1000);
    expect(r.m.snapshot()?.storage.usedBytes).toBe(700);
  });

  it('reports queue depth with the age of the oldest message, and survives a failing provider', async () => {
    let failing = false;
    const r = await rig({
      wallClock: () => 61_000,
      queues: () => {
        if (failing) throw new Error('outbox is closed');
        return { alarm: { count: 0, bytes: 0, oldestAt: undefined }, location: { count: 3, bytes: 300, oldestAt: 1000 } };
      },
      link: () => 'connected',
    });
    expect(r.reports[0]).toMatchObject({ link: 'connected', queues: { alarm: { count: 0, bytes: 0 }, location: { count: 3, bytes: 300, oldestAgeMs: 60_000 } } });
    expect(r.reports[0]?.queues.alarm).not.toHaveProperty('oldestAgeMs');
    failing = true;
    const b = await r.m.report();
    expect(b).toMatchObject({ trigger: 'request', queues: {} });
  });

  it('snapshot is the latest reading; a battery-less device has no battery field', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'nrec-nops-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const r = await rig({ powerSupplyRoot: empty, thermalRoot: join(empty, 'nothermal') });
    const s = r.m.snapshot();
    expect(s?.trigger).toBe('request');
    expect(s).not.toHaveProperty('battery');
    expect(s).not.toHaveProperty('cpuTempC');
    expect(r.m.batteryPct()).toBeUndefined();
  });

  it('a throwing report listener surfaces as error and the heartbeat goes on', async () => {
    const r = await rig();
    const errors: Error[] = [];
    r.m.on('error', (e: Error) => errors.push(e));
    r.m.once('report', () => {
      throw new Error('listener broke');
    });
    for (let i = 0; i < 10; i++) await r.poll(1000);
    expect(errors.map((e) => e.message)).toEqual(['listener broke']);
    for (let i = 0; i < 10; i++) await r.poll(1000);
    expect(r.reports.map((b) => b.trigger)).toEqual(['start', 'interval', 'interval']);
  });

  it('stop leaves no timer behind and no report after it', async () => {
    const r = await rig();
    await r.m.stop();
    expect(r.sched.pending).toBe(0);
    r.sched.advance(60_000);
    expect(r.reports).toHaveLength(1);
  });

  it('runs on real timers by default', async () => {
    const power = new SysfsPowerSupply();
    cleanups.push(() => power.close());
    const m = new HealthMonitor({ intervalMs: 20, powerSupplyRoot: power.powerSupplyRoot, thermalRoot: power.thermalRoot, clockSyncFile: '/nonexistent', dataDir: power.root, quotaBytes: 1 << 20 });
    cleanups.push(() => m.stop());
    const triggers: string[] = [];
    const two = new Promise<void>((resolve) =>
      m.on('report', (b: HealthBody) => {
        triggers.push(b.trigger);
        if (triggers.length === 2) resolve();
      }),
    );
    m.start();
    await two;
    expect(triggers).toEqual(['start', 'interval']);
  });

  it('refuses a non-positive interval, naming it', () => {
    expect(() => new HealthMonitor({ intervalMs: 0, powerSupplyRoot: '/', thermalRoot: '/', clockSyncFile: '/', dataDir: '/', quotaBytes: 1 })).toThrow(/intervalMs must be > 0, got 0/);
  });
});
