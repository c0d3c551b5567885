/**
 * When a command still unanswered is published again: `minMs` after the
 * first publish, doubling up to `maxMs`. A device normally answers within a
 * second; the repeats cover a broker that lost its queue (Mosquitto keeps
 * none across a restart by default) or a device that was away. A repeat is
 * harmless: the device answers it from its stored result without running it
 * again.
 */
export function republishDelay(publishes: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(30, publishes - 1)));
}
