// Circular geofences with hysteresis, so a wearer standing at the boundary
// does not produce a stream of enter/leave events from GPS jitter. A fence is
// entered when a fix lies within radius − margin and left when it lies beyond
// radius + margin, where margin = max(minMarginM, the fix's accuracy) capped
// at half the radius (so a poor fix can still confirm entry into a small
// fence's core). Either transition also needs `confirmFixes` consecutive fixes
// on the far side; a fix in the band between resets the count. The first fix
// decides the initial state: inside → an enter event; outside → silent.

import type { Fix } from './fix.js';
import { haversineM } from './geodesy.js';

export interface Fence {
  /** Caller's id, e.g. a visit or a patient's home. */
  id: string;
  lat: number;
  lon: number;
  radiusM: number;
}

export interface GeofenceOptions {
  /** Smallest hysteresis margin, metres. */
  minMarginM: number;
  /** Consecutive fixes needed to confirm a transition. */
  confirmFixes: number;
}

/** Defaults: 10 m margin (or the fix's accuracy if worse), two fixes to confirm. */
export const GEOFENCE_DEFAULTS: Readonly<GeofenceOptions> = Object.freeze({ minMarginM: 10, confirmFixes: 2 });

export interface GeofenceEvent {
  type: 'enter' | 'leave';
  fenceId: string;
  /** Distance from the fence centre at the confirming fix, metres. */
  distanceM: number;
  /** The confirming fix's time (epoch ms), if known. */
  time: number | undefined;
}

interface FenceState {
  fence: Fence;
  inside: boolean | undefined;
  /** Consecutive fixes that argue for a change, all on side `pendingIn`. */
  pending: number;
  pendingIn: boolean;
}

/** A set of circular fences; feed it fixes, get enter/leave events. */
export class Geofences {
  readonly #o: GeofenceOptions;
  readonly #fences = new Map<string, FenceState>();

  constructor(options: Partial<GeofenceOptions> = {}) {
    this.#o = { ...GEOFENCE_DEFAULTS, ...options };
    if (!(this.#o.confirmFixes >= 1)) throw new Error(`geofence confirmFixes must be at least 1, got ${this.#o.confirmFixes}`);
  }

  /** Adds or replaces a fence; a replaced fence whose geometry changed starts over from unknown. */
  set(fence: Fence): void {
    if (!(fence.radiusM > 0) || !Number.isFinite(fence.lat) || !Number.isFinite(fence.lon)) {
      throw new Error(`geofence "${fence.id}" needs finite lat/lon and a positive radius, got ${fence.lat}, ${fence.lon}, ${fence.radiusM} m`);
    }
    const old = this.#fences.get(fence.id);
    const same = old !== undefined && old.fence.lat === fence.lat && old.fence.lon === fence.lon && old.fence.radiusM === fence.radiusM;
    this.#fences.set(fence.id, same ? { ...old, fence: { ...fence } } : { fence: { ...fence }, inside: undefined, pending: 0, pendingIn: false });
  }

  /** Removes one fence, or all without an id. No leave event is produced. */
  clear(id?: string): void {
    if (id === undefined) this.#fences.clear();
    else this.#fences.delete(id);
  }

  /** Ids of the fences currently considered inside. */
  inside(): string[] {
    return [...this.#fences.values()].filter((s) => s.inside === true).map((s) => s.fence.id);
  }

  /** Updates every fence with a fix; invalid fixes are ignored. */
  update(fix: Fix): GeofenceEvent[] {
    if (!fix.valid || fix.lat === undefined || fix.lon === undefined) return [];
    const events: GeofenceEvent[] = [];
    for (const state of this.#fences.values()) {
      const { fence } = state;
      const distanceM = haversineM(fence.lat, fence.lon, fix.lat, fix.lon);
      const margin = Math.min(Math.max(this.#o.minMarginM, fix.accuracyM ?? 0), fence.radiusM / 2);
      const clearlyIn = distanceM <= fence.radiusM - margin;
      const clearlyOut = distanceM > fence.radiusM + margin;
      const argues = state.inside === true ? clearlyOut : state.inside === false ? clearlyIn : clearlyIn || clearlyOut;
      if (!argues) {
        state.pending = 0;
        continue;
      }
      state.pending = state.pendingIn === clearlyIn ? state.pending + 1 : 1;
      state.pendingIn = clearlyIn;
      if (state.pending < this.#o.confirmFixes) continue;
      state.pending = 0;
      const wasUnknown = state.inside === undefined;
      state.inside = clearlyIn;
      if (clearlyIn) events.push({ type: 'enter', fenceId: fence.id, distanceM, time: fix.time });
      else if (!wasUnknown) events.push({ type: 'leave', fenceId: fence.id, distanceM, time: fix.time });
    }
    return events;
  }
}
