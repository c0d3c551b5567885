/** Prints one benchmark result as a single JSON line. */
export function report(result: { bench: string; ratio: number; [k: string]: unknown }): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Percentile of an unsorted sample (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Rounds to a fixed number of decimals for readable output. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
