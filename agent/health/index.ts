/**
 * nrec device health: the heartbeat the platform sees.
 *
 * Readers (each takes its root path, so the simulator's tree can stand in, and
 * never throws: a missing file is an absent field):
 *   readPowerSupply(root)      /sys/class/power_supply: battery capacity, status, voltage, current, temp; AC/USB online
 *   readThermalZones / readCpuTempC(root)   /sys/class/thermal/thermal_zone*: temp (m°C), type
 *   filesystemSpace(path), directoryBytes(dir), readStorage(dataDir, quota)
 *   clockSynced(file), readClock(file)      /run/systemd/timesync/synchronized; os/process uptime
 * StateRegistry: named providers other modules register (gps link, button, recorder).
 * health-levels: pure change detection (battery 20/10/5 %, storage 90/95 %, with hysteresis).
 * HealthMonitor: polls, emits `report` (protocol HealthBody) on start, interval and change.
 *
 * Options of HealthMonitor (config `health.*` supplies the first four):
 *   intervalMs       (intervalS × 1000)  full report at least this often
 *   powerSupplyRoot  /sys/class/power_supply
 *   thermalRoot      /sys/class/thermal
 *   clockSyncFile    /run/systemd/timesync/synchronized
 *   dataDir, quotaBytes                  the agent's data directory and what it may use
 *   pollMs 5000, storagePollMs 30000, minChangeGapMs 5000
 *   queues, link, states, scheduler, wallClock, uptime   injected providers
 */
export { readPowerSupply, batteryStatus, type BatteryReading, type PowerReading } from './power-supply.js';
export { readThermalZones, readCpuTempC, cpuTempC, type ThermalZone } from './thermal.js';
export { filesystemSpace, directoryBytes, readStorage, storageFill, type StorageReading } from './storage.js';
export { clockSynced, readClock, realUptime, type ClockReading, type UptimeSource } from './clock.js';
export { StateRegistry, type StateProvider, type StateValue } from './state-registry.js';
export {
  band,
  batteryBand,
  storageBand,
  externalPower,
  levelsOf,
  diffLevels,
  stableJson,
  BATTERY_THRESHOLDS_PCT,
  STORAGE_THRESHOLDS,
  type HealthLevels,
  type LevelInput,
} from './health-levels.js';
export { HealthMonitor, toBody, type HealthMonitorOptions, type HealthSample, type HealthScheduler, type HealthTimer, type QueueStats } from './health-monitor.js';
