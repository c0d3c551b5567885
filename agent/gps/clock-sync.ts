// Detects whether the system clock is NTP-synchronized. Kept apart from the
// pure time decision (gps-time.ts) because it touches the file system.
import { access } from 'node:fs/promises';

/** systemd-timesyncd creates this file once it has synchronized the clock. */
export const TIMESYNC_FLAG_PATH = '/run/systemd/timesync/synchronized';

/** True when the flag file at `path` exists (systemd-timesyncd's convention). */
export async function isClockSynchronized(path: string = TIMESYNC_FLAG_PATH): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads `timedatectl show -p NTPSynchronized` output ("NTPSynchronized=yes"); undefined when the line is absent. */
export function parseNtpSynchronized(output: string): boolean | undefined {
  for (const line of output.split('\n')) {
    const [key, value] = line.trim().split('=', 2);
    if (key === 'NTPSynchronized') return value === 'yes';
  }
  return undefined;
}
