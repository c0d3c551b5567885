import { inboundTopic, type IdRange } from '../../protocol/index.js';

/** Per device, what one acknowledgement message confirms. */
export interface Confirmation {
  deviceId: string;
  acked: string[];
  ranges: IdRange[];
  rejected: Array<{ id: string; reason: string }>;
}

/** Entries (ids + ranges + rejections) per acknowledgement message; the schema allows 1000 of each. */
const MAX_ENTRIES = 1000;
const SEQ_ID = /^([A-Za-z0-9_-]{1,64})-(\d{1,15})$/;

/**
 * Collects what the store has committed, per device, and turns it into the
 * end-to-end confirmations the devices wait for: runs of consecutive ids
 * (`bootId-stream-seq`) as ranges, the rest one by one, rejections with their
 * reason. Pure: the ingest flushes it after each commit and publishes the
 * result on each device's cmd/ack.
 */
export class Confirmer {
  readonly #pending = new Map<string, { ids: Set<string>; rejected: Map<string, string> }>();

  /** Ids committed (stored, or found already stored) for a device. */
  stored(deviceId: string, ids: Iterable<string>): void {
    const p = this.#for(deviceId);
    for (const id of ids) p.ids.add(id);
  }

  /** An id the platform refused and recorded as rejected: the device should not send it again. */
  rejected(deviceId: string, id: string, reason: string): void {
    this.#for(deviceId).rejected.set(id, reason.slice(0, 512));
  }

  get pendingDevices(): number {
    return this.#pending.size;
  }

  /** Everything collected so far, as acknowledgement bodies (several per device when large); empties the collector. */
  drain(): Confirmation[] {
    const out: Confirmation[] = [];
    for (const [deviceId, p] of this.#pending) {
      const { ranges, singles } = toRanges(p.ids);
      let cur: Confirmation = { deviceId, acked: [], ranges: [], rejected: [] };
      const room = () => cur.acked.length + cur.ranges.length + cur.rejected.length < MAX_ENTRIES;
      const next = () => {
        out.push(cur);
        cur = { deviceId, acked: [], ranges: [], rejected: [] };
      };
      for (const r of ranges) {
        if (!room()) next();
        cur.ranges.push(r);
      }
      for (const id of singles) {
        if (!room()) next();
        cur.acked.push(id);
      }
      for (const [id, reason] of p.rejected) {
        if (!room()) next();
        cur.rejected.push({ id, reason });
      }
      out.push(cur);
    }
    this.#pending.clear();
    return out;
  }

  #for(deviceId: string) {
    let p = this.#pending.get(deviceId);
    if (p === undefined) {
      p = { ids: new Set(), rejected: new Map() };
      this.#pending.set(deviceId, p);
    }
    return p;
  }
}

/** The topic a confirmation goes to. */
export function confirmationTopic(c: Confirmation): string {
  return inboundTopic(c.deviceId, 'ack');
}

/** Splits ids into runs of at least 3 consecutive `prefix-seq` ids (as ranges) and the rest. */
export function toRanges(ids: Iterable<string>): { ranges: IdRange[]; singles: string[] } {
  const byPrefix = new Map<string, number[]>();
  const singles: string[] = [];
  for (const id of ids) {
    const m = SEQ_ID.exec(id);
    // `${prefix}-${n}` must give back the very id: a seq with a leading zero stays a single.
    if (m === null || String(Number(m[2])) !== m[2]) {
      singles.push(id);
      continue;
    }
    const seqs = byPrefix.get(m[1]) ?? [];
    seqs.push(Number(m[2]));
    byPrefix.set(m[1], seqs);
  }
  const ranges: IdRange[] = [];
  for (const [prefix, seqs] of byPrefix) {
    seqs.sort((a, b) => a - b);
    let first = seqs[0];
    let last = first;
    const close = () => {
      if (last - first >= 2) ranges.push({ prefix, first, last });
      else for (let n = first; n <= last; n++) singles.push(`${prefix}-${n}`);
    };
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] === last) continue;
      if (seqs[i] === last + 1) {
        last = seqs[i];
        continue;
      }
      close();
      first = seqs[i];
      last = first;
    }
    close();
  }
  return { ranges, singles };
}
