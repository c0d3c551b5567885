/** Bounds of the automatic media part size (payload bytes). */
export const MIN_AUTO_PART_BYTES = 16 * 1024;
export const MAX_AUTO_PART_BYTES = 128 * 1024;

/** How much link time one part should take at the current bulk rate. */
const PART_TIME_S = 0.1;

/**
 * Part size for a chunk that is about to start uploading, from the bulk pacing
 * rate (bytes/s): about 100 ms of link time, rounded down to a power of two,
 * within 16..128 KiB.
 *
 * Why not one fixed size: the two costs pull in opposite directions. On a slow
 * cellular link the rate controller needs several acknowledgements per round
 * trip (on a 4 Mbit/s, 80 ms link, 64 KiB parts reached 0.907 of the link,
 * 32 KiB 0.944, 16 KiB 0.955). On a fast link every part costs the agent a
 * fixed ~1 ms of CPU (read, frame, publish, PUBACK, progress), so small parts
 * waste CPU for nothing: 128 KiB parts (the size the protocol was first
 * specified with) are what a good link should get. ~100 ms of link time gives
 * 16 KiB at 2 Mbit/s, 32 KiB at 4, 64 KiB at 8 and 128 KiB from ~10.5 Mbit/s.
 */
export function autoPartBytes(rateBps: number): number {
  const want = Number.isFinite(rateBps) && rateBps > 0 ? rateBps * PART_TIME_S : 0;
  let size = MIN_AUTO_PART_BYTES;
  while (size * 2 <= want && size * 2 <= MAX_AUTO_PART_BYTES) size *= 2;
  return size;
}

/** A configured part size: a fixed number of bytes, or 'auto' (see autoPartBytes). */
export type PartBytesSetting = number | 'auto';

export function resolvePartBytes(setting: PartBytesSetting, rateBps: number): number {
  return setting === 'auto' ? autoPartBytes(rateBps) : setting;
}
