import { access } from 'node:fs/promises';
import { uptime } from 'node:os';

/** Clock synchronization and uptimes. */
export interface ClockReading {
  synced: boolean;
  /** System uptime, seconds. */
  uptimeS: number;
  /** This process's uptime, seconds. */
  agentUptimeS: number;
}

/** Where the uptimes come from; injected so tests can fix them. */
export interface UptimeSource {
  system(): number;
  process(): number;
}

export const realUptime: UptimeSource = Object.freeze({ system: () => uptime(), process: () => process.uptime() });

/**
 * systemd-timesyncd creates `/run/systemd/timesync/synchronized` once the
 * kernel reports the clock synchronized; its existence is the signal (the
 * path is configurable for chrony setups or the simulator).
 */
export async function clockSynced(syncFile: string): Promise<boolean> {
  try {
    await access(syncFile);
    return true;
  } catch {
    return false;
  }
}

/** Reads clock sync state and uptimes. Never throws. */
export async function readClock(syncFile: string, up: UptimeSource = realUptime): Promise<ClockReading> {
  return { synced: await clockSynced(syncFile), uptimeS: Math.round(up.system()), agentUptimeS: Math.round(up.process()) };
}
