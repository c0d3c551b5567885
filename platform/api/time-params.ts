/*
 * Times as people and scripts give them: epoch ms, or ISO 8601. A date alone
 * is midnight UTC, and a date-time without an offset is UTC too (never the
 * server's local zone, which would make the same URL mean different times on
 * different hosts). The CLI also takes a span back from now: 90s, 15m, 2h, 7d.
 */

const EPOCH = /^-?\d{1,15}$/;
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;
const SPAN = /^(\d{1,9})(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A span (90s, 15m, 2h, 7d) in ms, or undefined when `s` is not one. */
export function parseSpan(s: string): number | undefined {
  const m = SPAN.exec(s.trim());
  return m === null ? undefined : Number(m[1]) * UNIT_MS[m[2]];
}

export type TimeParse = { ok: true; ms: number } | { ok: false; reason: string };

export function parseTime(s: string, o: { now?: number; spans?: boolean } = {}): TimeParse {
  const t = s.trim();
  if (EPOCH.test(t)) return { ok: true, ms: Number(t) };
  const span = o.spans === true ? parseSpan(t) : undefined;
  if (span !== undefined) return { ok: true, ms: (o.now ?? Date.now()) - span };
  const m = ISO.exec(t);
  if (m === null) {
    return { ok: false, reason: `"${s}" is not a time: give epoch ms or ISO 8601 (2026-01-05, 2026-01-05T08:00:00Z)${o.spans === true ? ', or a span back from now (90s, 15m, 2h, 7d)' : ''}` };
  }
  const [, date, time, offset] = m;
  const zone = offset === undefined ? 'Z' : offset === 'Z' ? 'Z' : offset.includes(':') ? offset : `${offset.slice(0, 3)}:${offset.slice(3)}`;
  // Fractions beyond milliseconds are cut (Date keeps ms).
  const clock = time === undefined ? '00:00:00' : time.replace(/(\.\d{3})\d+$/, '$1');
  const ms = Date.parse(`${date}T${clock.length === 5 ? `${clock}:00` : clock}${zone}`);
  // Date.parse rolls 2026-02-30 over to March; a date that does not round-trip is not a date.
  if (Number.isNaN(ms) || new Date(ms + (zone === 'Z' ? 0 : offsetMs(zone))).toISOString().slice(0, 10) !== date) return { ok: false, reason: `"${s}" is not a valid date or time` };
  return { ok: true, ms };
}

function offsetMs(zone: string): number {
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 3_600_000 + Number(zone.slice(4, 6)) * 60_000);
}
