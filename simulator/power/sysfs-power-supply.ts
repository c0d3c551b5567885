import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SysfsPowerSupplyOptions {
  /** Directory to build the tree in; a fresh temp dir when unset (removed by `close()`). */
  root?: string;
  /** Initial state of charge, % (default 80). */
  capacity?: number;
  /** Initially on external power and charging (default false: discharging). */
  charging?: boolean;
  /** Initial CPU temperature, °C (default 45). */
  tempC?: number;
  /** Battery temperature in °C, written as `temp` (tenths); omitted when unset, as many gauges do. */
  batteryTempC?: number;
}

/**
 * A /sys/class/power_supply + /sys/class/thermal look-alike in a temp
 * directory: `<root>/power_supply/BAT0/{type,capacity,status,voltage_now,
 * current_now}`, `<root>/power_supply/AC/{type,online}` and
 * `<root>/thermal/thermal_zone0/{type,temp}`. Every write goes to a temp file
 * renamed over the attribute, so a reader sees the old value or the new one,
 * never an empty or half-written file (the kernel's attributes behave alike).
 *
 * Events: `capacity` (pct) after the capacity file changed.
 */
export class SysfsPowerSupply extends EventEmitter {
  readonly root: string;
  readonly #ownsRoot: boolean;
  #capacity: number;
  #charging: boolean;
  #drain: NodeJS.Timeout | undefined;
  #closed = false;
  #seq = 0;

  constructor(opts: SysfsPowerSupplyOptions = {}) {
    super();
    this.#ownsRoot = opts.root === undefined;
    this.root = opts.root ?? mkdtempSync(join(tmpdir(), 'nrec-sysfs-power-'));
    this.#capacity = clampPct(opts.capacity ?? 80);
    this.#charging = opts.charging ?? false;
    for (const d of [this.#bat(), this.#ac(), this.#zone()]) mkdirSync(d, { recursive: true });
    this.#write(join(this.#bat(), 'type'), 'Battery');
    this.#write(join(this.#bat(), 'scope'), 'System');
    this.#write(join(this.#ac(), 'type'), 'Mains');
    this.#write(join(this.#zone(), 'type'), 'cpu-thermal');
    if (opts.batteryTempC !== undefined) this.#write(join(this.#bat(), 'temp'), String(Math.round(opts.batteryTempC * 10)));
    this.setTemp(opts.tempC ?? 45);
    this.#writeBattery();
  }

  /** Pass as the agent's `health.powerSupplyRoot`. */
  get powerSupplyRoot(): string {
    return join(this.root, 'power_supply');
  }

  /** Pass as the agent's `health.thermalRoot`. */
  get thermalRoot(): string {
    return join(this.root, 'thermal');
  }

  /** Current state of charge, %. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Sets the state of charge (clamped to 0..100, rounded as the kernel reports whole percent). */
  setCapacity(pct: number): void {
    const next = clampPct(pct);
    const changed = next !== this.#capacity;
    this.#capacity = next;
    this.#writeBattery();
    if (changed) this.emit('capacity', next);
  }

  /** Plugs (true) or unplugs (false) external power; the battery status follows. */
  setCharging(charging: boolean): void {
    this.#charging = charging;
    this.#writeBattery();
  }

  /** Sets the CPU temperature, °C (written in millidegrees). */
  setTemp(c: number): void {
    this.#write(join(this.#zone(), 'temp'), String(Math.round(c * 1000)));
  }

  /**
   * Lowers the charge by `pctPerMinute` (a negative rate raises it)
   * every `tickMs` of real time (default 1 s), with `speedup` to compress a
   * scenario: 60 makes a minute pass per second. 0 stops it.
   */
  drain(pctPerMinute: number, opts: { tickMs?: number; speedup?: number } = {}): void {
    if (this.#drain) clearInterval(this.#drain);
    this.#drain = undefined;
    if (pctPerMinute === 0) return;
    const tickMs = opts.tickMs ?? 1000;
    const perTick = (-pctPerMinute * (opts.speedup ?? 1) * tickMs) / 60_000;
    let exact = this.#capacity;
    this.#drain = setInterval(() => {
      exact = Math.min(100, Math.max(0, exact + perTick));
      if (Math.round(exact) !== this.#capacity) this.setCapacity(exact);
    }, tickMs);
    this.#drain.unref();
  }

  /** Removes the battery's capacity attribute (a gauge that stopped answering). */
  removeCapacity(): void {
    rmSync(join(this.#bat(), 'capacity'), { force: true });
  }

  /** Stops the drain timer and removes the tree if this instance created it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.drain(0);
    if (this.#ownsRoot) rmSync(this.root, { recursive: true, force: true });
  }

  #bat(): string {
    return join(this.root, 'power_supply', 'BAT0');
  }

  #ac(): string {
    return join(this.root, 'power_supply', 'AC');
  }

  #zone(): string {
    return join(this.root, 'thermal', 'thermal_zone0');
  }

  #writeBattery(): void {
    const dir = this.#bat();
    const status = this.#charging ? (this.#capacity >= 100 ? 'Full' : 'Charging') : 'Discharging';
    // A 1S Li-ion cell: about 3.3 V empty to 4.2 V full; the current sign follows the power_supply ABI (negative discharging).
    const microV = Math.round((3.3 + 0.9 * (this.#capacity / 100)) * 1e6);
    const microA = this.#charging ? (this.#capacity >= 100 ? 0 : 800_000) : -450_000;
    this.#write(join(dir, 'capacity'), String(this.#capacity));
    this.#write(join(dir, 'status'), status);
    this.#write(join(dir, 'voltage_now'), String(microV));
    this.#write(join(dir, 'current_now'), String(microA));
    this.#write(join(this.#ac(), 'online'), this.#charging ? '1' : '0');
  }

  #write(path: string, value: string): void {
    if (this.#closed) return;
    const tmp = `${path}.${process.pid}.${this.#seq++}.tmp`;
    try {
      writeFileSync(tmp, `${value}\n`);
      renameSync(tmp, path);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      throw new Error(`power stand-in: cannot write ${path}: ${(err as Error).message}`);
    }
  }
}

function clampPct(pct: number): number {
  if (!Number.isFinite(pct)) throw new Error(`power stand-in: capacity must be a number, got ${pct}`);
  return Math.round(Math.min(100, Math.max(0, pct)));
}
