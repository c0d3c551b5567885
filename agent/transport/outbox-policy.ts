/**
 * What the outbox drops when a put would exceed its byte capacity. Pure: it
 * sees rows as (rowId, bytes) in FIFO order and returns a plan; the outbox
 * executes the plan in the same transaction as the put.
 *
 * Order of sacrifice, cheapest loss first:
 *   status    — superseded by the next status (retained, only the latest matters);
 *   location  — thinned, never dropped wholesale: the track keeps its shape
 *               (first, last and every Nth point survive each pass);
 *   result    — command results, oldest first, only when all of the above are gone;
 *   manifest  — never evicted: a session's signed manifest (the visit's service
 *               record) leaves the device's session store once it is in the outbox,
 *               so nothing could rebuild an evicted one; one per session, small;
 *   alarm     — never evicted.
 * A put of a lane that is never evicted may displace every evictable lane and,
 * when even that is not enough, is stored over capacity (see storedOverCapacity).
 * Any other put may only displace data that is as cheap or cheaper to lose than
 * itself (a status put may evict older statuses but not thin the track), so a
 * flood of low-value messages cannot erase more valuable ones.
 */

export const LANES = ['alarm', 'result', 'status', 'location', 'manifest'] as const;
export type Lane = (typeof LANES)[number];

/** Eviction order, first sacrificed first; alarm and manifest are absent on purpose. */
export const EVICTION_ORDER = ['status', 'location', 'result'] as const satisfies readonly Lane[];
type EvictableLane = (typeof EVICTION_ORDER)[number];

/** Lanes whose messages are never evicted, and whose puts are stored even over capacity. */
export const NEVER_EVICTED = ['alarm', 'manifest'] as const satisfies readonly Lane[];

/** True when a put of `lane` must be stored even if eviction cannot make room (the outbox refuses any other). */
export function storedOverCapacity(lane: Lane): boolean {
  return (NEVER_EVICTED as readonly Lane[]).includes(lane);
}

/** A queued, not-in-flight row as the policy sees it. */
export interface PolicyRow {
  rowId: number;
  bytes: number;
}

export interface EvictionDrop {
  lane: Lane;
  rowIds: number[];
  bytes: number;
  reason: 'capacity' | 'thinned';
}

export interface EvictionPlan {
  /** Rows to delete, grouped by lane, in the order they were chosen. */
  drops: EvictionDrop[];
  freed: number;
  /** False when even the whole plan frees less than needed (the put is refused unless it is an alarm). */
  enough: boolean;
}

export interface EvictionRequest {
  /** Lane of the incoming message. */
  lane: Lane;
  /** Bytes that must be freed for the incoming message to fit. */
  needBytes: number;
  /** Keep every Nth location when thinning (>= 2). */
  thinKeepEvery: number;
  /** Queued, not-in-flight rows of a lane, oldest first. Read lazily: oldest-first lanes stop early. */
  rows(lane: Lane): Iterable<PolicyRow>;
}

function evictionRank(lane: Lane): number {
  return storedOverCapacity(lane) ? EVICTION_ORDER.length : EVICTION_ORDER.indexOf(lane as EvictableLane);
}

/** Decides which rows to drop so `needBytes` fit; never touches alarms, manifests or lanes more valuable than the incoming one. */
export function planEviction(req: EvictionRequest): EvictionPlan {
  if (!Number.isInteger(req.thinKeepEvery) || req.thinKeepEvery < 2) {
    throw new Error(`thinKeepEvery must be an integer >= 2, got ${req.thinKeepEvery}`);
  }
  const drops: EvictionDrop[] = [];
  let freed = 0;
  const maxRank = evictionRank(req.lane);
  for (let rank = 0; rank <= maxRank && rank < EVICTION_ORDER.length && freed < req.needBytes; rank++) {
    const lane = EVICTION_ORDER[rank];
    if (lane === 'location') {
      const drop = thinUntil(Array.from(req.rows(lane)), req.needBytes - freed, req.thinKeepEvery);
      if (drop.rowIds.length > 0) {
        drops.push({ lane, rowIds: drop.rowIds, bytes: drop.bytes, reason: 'thinned' });
        freed += drop.bytes;
      }
      continue;
    }
    const rowIds: number[] = [];
    let bytes = 0;
    for (const r of req.rows(lane)) {
      if (freed + bytes >= req.needBytes) break;
      rowIds.push(r.rowId);
      bytes += r.bytes;
    }
    if (rowIds.length > 0) {
      drops.push({ lane, rowIds, bytes, reason: 'capacity' });
      freed += bytes;
    }
  }
  return { drops, freed, enough: freed >= req.needBytes };
}

/**
 * One thinning pass: keeps the first and last row and every Nth row counted
 * from the first (indices 0, N, 2N, … and n-1); returns the indices dropped.
 */
export function thinPass(count: number, keepEvery: number): number[] {
  const dropped: number[] = [];
  for (let i = 1; i < count - 1; i++) {
    if (i % keepEvery !== 0) dropped.push(i);
  }
  return dropped;
}

/** Thins repeatedly (whole passes, so the track stays evenly spaced) until `need` bytes are freed or only first and last remain. */
function thinUntil(rows: PolicyRow[], need: number, keepEvery: number): { rowIds: number[]; bytes: number } {
  const rowIds: number[] = [];
  let bytes = 0;
  let kept = rows;
  while (bytes < need && kept.length > 2) {
    const dropIdx = thinPass(kept.length, keepEvery);
    const dropSet = new Set(dropIdx);
    for (const i of dropIdx) {
      rowIds.push(kept[i].rowId);
      bytes += kept[i].bytes;
    }
    kept = kept.filter((_, i) => !dropSet.has(i));
  }
  return { rowIds, bytes };
}
