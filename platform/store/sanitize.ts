/*
 * Text that PostgreSQL cannot hold. A `text` or `jsonb` value may not contain
 * U+0000, and `jsonb` refuses a lone UTF-16 surrogate; both are valid in a
 * JSON string a device sends (`"\u0000"`, `"\ud800"`), and the schema only caps
 * lengths. One such event would make every commit of its batch fail, and the
 * ingest, acknowledging nothing, would stall on it forever. So the derived
 * columns get both replaced by U+FFFD, on both back-ends alike; the raw
 * message is kept exactly (as JSON text, where they are escapes).
 */

const BAD = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with NUL and lone surrogates replaced by U+FFFD. */
export function cleanText(s: string): string {
  BAD.lastIndex = 0;
  return BAD.test(s) ? s.replace(BAD, '\ufffd') : s;
}

export function cleanOptText(s: string | undefined): string | null {
  return s === undefined ? null : cleanText(s);
}

/** A JSON value with every string and key cleaned (a copy only where something changed). */
export function cleanJson<T>(value: T): T {
  if (typeof value === 'string') return cleanText(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const c = cleanJson(v);
      if (c !== v) (out ??= [...value])[i] = c;
    });
    return (out ?? value) as T;
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const ck = cleanText(k);
    const cv = cleanJson(v);
    if (ck !== k || cv !== v) changed = true;
    out[ck] = cv;
  }
  return (changed ? out : value) as T;
}
