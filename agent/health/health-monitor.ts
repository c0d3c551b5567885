import { EventEmitter } from 'node:events';
import type { BatteryHealth, HealthBody, HealthTrigger, QueueHealth } from '../../protocol/health.js';
import { readClock, realUptime, type ClockReading, type UptimeSource } from './clock.js';
import { diffLevels, levelsOf, type HealthLevels } from './health-levels.js';
import { readPowerSupply, type PowerReading } from './power-supply.js';
import { StateRegistry, type StateProvider } from './state-registry.js';
import { directoryBytes, filesystemSpace, type StorageReading } from './storage.js';
import { readCpuTempC } from './thermal.js';

/** Timer handle of a HealthScheduler. */
export type HealthTimer = { readonly id: number } | NodeJS.Timeout;

/** Clock and timers the monitor runs on (the button module's Scheduler fits); injected so tests drive time. */
export interface HealthScheduler {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): HealthTimer;
  clearTimeout(handle: HealthTimer | undefined): void;
}

const nodeScheduler: HealthScheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => {
    if (h !== undefined && !('id' in h)) clearTimeout(h);
  },
};

/** One lane's outbox depth as `Outbox.stats()` reports it (`oldestAt` is epoch ms). */
export interface QueueStats {
  count: number;
  bytes: number;
  oldestAt?: number | undefined;
}

export interface HealthMonitorOptions {
  /** A full report at least this often. */
  intervalMs: number;
  /** How often to look for significant changes (default min(5 s, intervalMs)). */
  pollMs?: number;
  /** How often to re-walk the data directory for its size (default 30 s; a walk of 2000 files costs ~50 ms); statfs (~0.05 ms) runs every poll. */
  storagePollMs?: number;
  /** Change reports closer together than this are merged into one (default 5 s). */
  minChangeGapMs?: number;
  /** Normally /sys/class/power_supply. */
  powerSupplyRoot: string;
  /** Normally /sys/class/thermal. */
  thermalRoot: string;
  /** Exists while the clock is synchronized; normally /run/systemd/timesync/synchronized. */
  clockSyncFile: string;
  dataDir: string;
  quotaBytes: number;
  scheduler?: HealthScheduler;
  /** Epoch ms, for queue ages (default Date.now). */
  wallClock?: () => number;
  uptime?: UptimeSource;
  /** Outbox depth per lane, e.g. `() => outbox.stats()`. Reported, never a change trigger (it moves all the time). */
  queues?: () => Record<string, QueueStats>;
  /** Connection state for the report, e.g. MQTT connected/disconnected. Reported, not a trigger. */
  link?: () => string | undefined;
  /** Share a registry with other modules; the monitor makes its own when unset. */
  states?: StateRegistry;
}

/** Everything one poll read. */
export interface HealthSample {
  power: PowerReading;
  storage: StorageReading;
  cpuTempC?: number;
  clock: ClockReading;
  states: Record<string, unknown>;
  queues: Record<string, QueueHealth>;
  link?: string;
}

/**
 * The device heartbeat. Polls battery, storage, temperature, clock and the
 * registered module states; emits `report` (HealthBody) at start, every
 * `intervalMs`, and early when something significant changes (battery band
 * 20/10/5 %, external power, clock sync, storage band 90/95 %, a registered
 * state). Also emits `sampled` (HealthSample) after every poll, and
 * `error` when a `report` listener threw (polling goes on).
 */
export class HealthMonitor extends EventEmitter {
  readonly #o: Required<Pick<HealthMonitorOptions, 'pollMs' | 'storagePollMs' | 'minChangeGapMs'>> & HealthMonitorOptions;
  readonly #sched: HealthScheduler;
  readonly #wall: () => number;
  readonly states: StateRegistry;
  #timer: HealthTimer | undefined;
  #running = false;
  #queue: Promise<void> = Promise.resolve();
  #last: HealthSample | undefined;
  #levels: HealthLevels | undefined;
  #pending = new Set<string>();
  #lastReportAt = Number.NEGATIVE_INFINITY;
  #lastChangeAt = Number.NEGATIVE_INFINITY;
  #used: { bytes: number; at: number } | undefined;

  constructor(o: HealthMonitorOptions) {
    super();
    if (!(o.intervalMs > 0)) throw new Error(`health intervalMs must be > 0, got ${o.intervalMs}`);
    if (!(o.quotaBytes >= 0)) throw new Error(`health quotaBytes must be >= 0, got ${o.quotaBytes}`);
    this.#o = { pollMs: Math.min(5000, o.intervalMs), storagePollMs: 30_000, minChangeGapMs: 5000, ...o };
    this.#sched = o.scheduler ?? nodeScheduler;
    this.#wall = o.wallClock ?? Date.now;
    this.states = o.states ?? new StateRegistry();
  }

  /** Registers a named state provider (see StateRegistry); returns its unregister function. */
  registerState(name: string, get: StateProvider): () => void {
    return this.states.registerState(name, get);
  }

  /** Starts polling; the first poll emits a 'start' report. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops polling; resolves once a poll in progress has finished. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#sched.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#queue;
  }

  /** The latest report body (trigger 'request'), or undefined before the first poll. */
  snapshot(): HealthBody | undefined {
    return this.#last === undefined ? undefined : toBody(this.#last, 'request');
  }

  /** Battery charge from the latest poll, for the alarm message; undefined without a battery. */
  batteryPct(): number | undefined {
    return this.#last?.power.battery?.pct;
  }

  /** Polls now and emits a report with `trigger` (default 'request'); resolves with it. */
  async report(trigger: HealthTrigger = 'request'): Promise<HealthBody> {
    return this.#exclusive(async () => {
      const s = await this.#sample(true);
      this.#observe(s);
      return this.#emit(s, trigger);
    });
  }

  /** Polls now (say, right after a module's state changed) and emits a change report if something significant changed. */
  async check(): Promise<void> {
    await this.#exclusive(() => this.#poll());
  }

  /** Polls serialize: an external check() and the timer never read concurrently. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #schedule(ms: number): void {
    this.#sched.clearTimeout(this.#timer);
    this.#timer = this.#sched.setTimeout(() => {
      this.#timer = undefined;
      void this.#exclusive(() => this.#poll()).catch((err: unknown) => this.emit('error', err));
    }, ms);
  }

  async #poll(): Promise<void> {
    const first = this.#last === undefined;
    const s = await this.#sample(false);
    this.#observe(s);
    const now = this.#sched.now();
    let trigger: HealthTrigger | undefined;
    if (first) trigger = 'start';
    else if (this.#pending.size > 0 && now - this.#lastChangeAt >= this.#o.minChangeGapMs) trigger = 'change';
    else if (now - this.#lastReportAt >= this.#o.intervalMs) trigger = this.#pending.size > 0 ? 'change' : 'interval';
    try {
      if (trigger !== undefined) this.#emit(s, trigger);
    } finally {
      // A throwing 'report' listener surfaces as 'error' but must not end the heartbeat.
      if (this.#running) this.#schedule(this.#nextDelay(now));
      this.emit('sampled', s);
    }
  }

  /** Next poll: the poll period, but no later than a due interval report or a held-back change report. */
  #nextDelay(now: number): number {
    let d = Math.min(this.#o.pollMs, this.#lastReportAt + this.#o.intervalMs - now);
    if (this.#pending.size > 0) d = Math.min(d, this.#lastChangeAt + this.#o.minChangeGapMs - now);
    return Math.max(0, d);
  }

  /** Records the sample and accumulates what changed since the previous one. */
  #observe(s: HealthSample): void {
    const levels = levelsOf({ power: s.power, storage: s.storage, clockSynced: s.clock.synced, states: s.states }, this.#levels);
    if (this.#levels !== undefined) for (const c of diffLevels(this.#levels, levels)) this.#pending.add(c);
    this.#levels = levels;
    this.#last = s;
  }

  #emit(s: HealthSample, trigger: HealthTrigger): HealthBody {
    const now = this.#sched.now();
    const changed = [...this.#pending];
    const body = toBody(s, trigger, changed);
    this.#pending.clear();
    this.#lastReportAt = now;
    if (trigger === 'change') this.#lastChangeAt = now;
    this.emit('report', body);
    return body;
  }

  async #sample(forceWalk: boolean): Promise<HealthSample> {
    const o = this.#o;
    const now = this.#sched.now();
    const cached = this.#used;
    const walk = forceWalk || cached === undefined || now - cached.at >= o.storagePollMs;
    const [power, cpuTempC, clock, space, usedBytes] = await Promise.all([
      readPowerSupply(o.powerSupplyRoot),
      readCpuTempC(o.thermalRoot),
      readClock(o.clockSyncFile, o.uptime ?? realUptime),
      filesystemSpace(o.dataDir),
      walk || cached === undefined ? directoryBytes(o.dataDir) : Promise.resolve(cached.bytes),
    ]);
    if (walk) this.#used = { bytes: usedBytes, at: now };
    const link = safeCall(() => o.link?.());
    return {
      power,
      storage: { ...(space ?? {}), usedBytes, quotaBytes: o.quotaBytes },
      ...(cpuTempC !== undefined ? { cpuTempC } : {}),
      clock,
      states: this.states.collect(),
      queues: this.#queues(),
      ...(link !== undefined ? { link } : {}),
    };
  }

  #queues(): Record<string, QueueHealth> {
    const stats = safeCall(() => this.#o.queues?.()) ?? {};
    const wall = this.#wall();
    const out: Record<string, QueueHealth> = {};
    for (const [lane, q] of Object.entries(stats)) {
      out[lane] = { count: q.count, bytes: q.bytes, ...(q.oldestAt !== undefined ? { oldestAgeMs: Math.max(0, Math.round(wall - q.oldestAt)) } : {}) };
    }
    return out;
  }
}

/** A provider failing (the outbox closed during shutdown, say) must not stop the heartbeat. */
function safeCall<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** The protocol body of a sample. */
export function toBody(s: HealthSample, trigger: HealthTrigger, changed: string[] = []): HealthBody {
  const b = s.power.battery;
  let battery: BatteryHealth | undefined;
  if (b?.pct !== undefined) {
    battery = { pct: b.pct, status: b.status };
    if (b.voltageV !== undefined) battery.voltageV = b.voltageV;
    if (b.currentA !== undefined) battery.currentA = b.currentA;
    if (b.tempC !== undefined) battery.tempC = b.tempC;
    if (s.power.onExternalPower !== undefined) battery.onExternalPower = s.power.onExternalPower;
  }
  const { freeBytes, usedBytes, quotaBytes } = s.storage;
  return {
    trigger,
    ...(changed.length > 0 ? { changed } : {}),
    ...(battery ? { battery } : {}),
    storage: { ...(freeBytes !== undefined ? { freeBytes } : {}), usedBytes, quotaBytes },
    ...(s.cpuTempC !== undefined ? { cpuTempC: s.cpuTempC } : {}),
    uptimeS: s.clock.uptimeS,
    agentUptimeS: s.clock.agentUptimeS,
    clockSynced: s.clock.synced,
    queues: s.queues,
    ...(s.link !== undefined ? { link: s.link } : {}),
    states: s.states,
  };
}
