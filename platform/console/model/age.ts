/*
 * Every value on the console shows its age: how long ago, in words a person
 * reads at a glance. Pure.
 */

/** "now", "12 s", "4 min", "2 h 5 min", "3 d 4 h". Negative ages (a device clock ahead of the server) read "now". */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return 'now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** "12 s ago" (or "now"). */
export function ago(ms: number): string {
  const a = formatAge(ms);
  return a === 'now' || a === '?' ? a : `${a} ago`;
}

/** A duration: "4.0 s", "1 min 12 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  return formatAge(ms);
}

/** How fresh a value is against the time it should be renewed in: fresh, aging (past it), stale (past twice). */
export function freshness(ageMs: number, expectedEveryMs: number): 'fresh' | 'aging' | 'stale' {
  if (ageMs <= expectedEveryMs) return 'fresh';
  if (ageMs <= 2 * expectedEveryMs) return 'aging';
  return 'stale';
}

/** A local clock time with seconds: "14:03:07". */
export function clockTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A local date and time: "2026-01-05 14:03:07". */
export function dateTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${clockTime(epochMs)}`;
}

/** Bytes for a person: "812 KB", "3.4 GB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
