/**
 * What a remote `config.set` may change, and how. Pure: no I/O.
 *
 * Settings that can cut the device off or silence it are *dangerous*: the broker
 * connection (`mqtt.*`), the alarm button (`button.*`), the binaries the agent
 * runs (`media.ffmpegPath`; `button.toolsDir` is under `button.*`), the GPS
 * receiver's link (`gps.enabled`, `gps.path`, `gps.baudRate`), the device's
 * identity (`deviceId`) and where it keeps its state (`dataDir`). A remote change
 * to any of them is refused unless the command says `confirm: true`, and is then
 * applied commit-confirmed (see commit-confirm.ts).
 */
export const DANGEROUS_KEYS = ['deviceId', 'dataDir', 'mqtt', 'button', 'media.ffmpegPath', 'gps.enabled', 'gps.path', 'gps.baudRate'] as const;

/** Config keys that take effect without a restart (prefix match); everything else reports restartRequired. */
export const LIVE_KEYS = ['logLevel', 'gps.intervalS', 'gps.displacementM', 'gps.stationaryIntervalS', 'gps.visitIntervalS', 'gps.sosBurstS', 'health.intervalS'] as const;

/** Default and bounds of the commit-confirm deadline (`args.deadlineS`). */
export const CONFIRM_DEADLINE_S = { default: 120, min: 5, max: 3600 } as const;

const matches = (key: string, prefix: string) => key === prefix || key.startsWith(`${prefix}.`);

/** The dotted keys of the dangerous settings among `changed`. */
export function dangerousKeys(changed: readonly string[]): string[] {
  return changed.filter((k) => DANGEROUS_KEYS.some((d) => matches(k, d) || matches(d, k)));
}

/** The keys among `changed` that need a restart to take effect. */
export function restartKeys(changed: readonly string[]): string[] {
  return changed.filter((k) => !LIVE_KEYS.some((live) => matches(k, live)));
}

/** Dotted paths of every leaf of a patch: `{gps: {intervalS: 2}}` → `['gps.intervalS']`. */
export function flattenKeys(obj: unknown, prefix = ''): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || Object.keys(obj).length === 0) return prefix === '' ? [] : [prefix];
  return Object.entries(obj).flatMap(([k, v]) => flattenKeys(v, prefix ? `${prefix}.${k}` : k));
}

/** Deep-merges a patch into a config object (objects merge, anything else replaces). */
export function mergePatch(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? mergePatch(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `url` with any user name and password replaced by "redacted" (a URL that does not parse is not shown). */
export function redactUrlCredentials(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(not a valid URL)';
  }
  // 'u:p@host' parses as scheme "u:" with an opaque path: nothing to redact by field, so show none of it.
  if (u.host === '' && url.includes('@')) return '(not a valid URL)';
  if (u.username !== '') u.username = 'redacted';
  if (u.password !== '') u.password = 'redacted';
  return u.toString();
}
