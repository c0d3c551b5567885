// Groups the sentence stream into epochs (one per receiver solution, normally
// one per second) and turns each into a Fix with an absolute time.
//
// Epoch boundaries: a sentence whose UTC time differs from the epoch's starts
// a new one; so does a second RMC/GGA/GLL/GNS/VTG/ZDA/GST from the same talker,
// which is how an acquiring receiver that sends empty time fields still yields
// one fix per cycle. Sentences without a time (GSA, GSV, VTG, TXT) join the
// epoch in progress; receivers send them after the timed ones of their cycle.
//
// Dates: only RMC (ddmmyy) and ZDA carry one. Other epochs take the last known
// date; when their time of day falls more than 12 h below the previous epoch's,
// the clock passed midnight and the date advances by one day.
//
// Leap seconds: a receiver announcing 23:59:60.x gets its own epoch (its time
// of day, 86 400 000 + x ms, differs from its neighbours'), reported with
// `leapSecond: true` and `time` held at 23:59:59.999 of that date. Epoch ms
// (POSIX time) has no 61st second, and holding the last millisecond keeps time
// monotonic without colliding with the next day's 00:00:00.000.

import { type Fix, mergeEpoch } from './fix.js';
import type { Sentence, UtcDate } from './nmea-types.js';

const DAY_MS = 86_400_000;
const HALF_DAY_MS = DAY_MS / 2;

/**
 * Sentences one epoch may hold. A busy multi-GNSS receiver sends ~40 per
 * second; a stream of timeless sentences alone (GSV/GSA only) would otherwise
 * grow an epoch without end.
 */
export const MAX_EPOCH_SENTENCES = 128;

/** Sentence types a receiver sends once per talker per epoch; a repeat means a new epoch. */
const ONCE_PER_EPOCH = new Set(['RMC', 'GGA', 'GLL', 'GNS', 'VTG', 'ZDA', 'GST']);

function timeOfDay(s: Sentence): number | undefined {
  switch (s.type) {
    case 'RMC':
    case 'GGA':
    case 'GLL':
    case 'GNS':
    case 'ZDA':
    case 'GST':
      return s.timeOfDayMs;
    default:
      return undefined;
  }
}

function dateMs(d: UtcDate): number {
  return Date.UTC(d.year, d.month - 1, d.day);
}

/** Merges sentences into one Fix per epoch; `push` returns the epoch it completed, if any. */
export class FixAssembler {
  #sentences: Sentence[] = [];
  #seen = new Set<string>();
  #timeOfDay: number | undefined;
  #lastDateMs: number | undefined;
  #lastTimeOfDay: number | undefined;
  #epochs = 0;

  /** Adds a sentence; returns the previous epoch's fix when this sentence starts a new epoch. */
  push(s: Sentence): Fix | undefined {
    const tod = timeOfDay(s);
    const key = s.talker + s.type;
    let done: Fix | undefined;
    if (this.#sentences.length > 0) {
      const sameTime = tod !== undefined && tod === this.#timeOfDay;
      const newTime = tod !== undefined && this.#timeOfDay !== undefined && tod !== this.#timeOfDay;
      const repeat = ONCE_PER_EPOCH.has(s.type) && this.#seen.has(key) && !sameTime;
      if (newTime || repeat || this.#sentences.length >= MAX_EPOCH_SENTENCES) done = this.#complete();
    }
    if (tod !== undefined && this.#timeOfDay === undefined) this.#timeOfDay = tod;
    this.#sentences.push(s);
    this.#seen.add(key);
    return done;
  }

  /** Completes the epoch in progress (end of input); undefined when there is none. */
  flush(): Fix | undefined {
    return this.#sentences.length > 0 ? this.#complete() : undefined;
  }

  /** Number of fixes emitted so far. */
  get epochs(): number {
    return this.#epochs;
  }

  #complete(): Fix | undefined {
    const sentences = this.#sentences;
    const tod = this.#timeOfDay;
    this.#sentences = [];
    this.#seen = new Set();
    this.#timeOfDay = undefined;
    // An epoch of receiver text alone (start-up banners) is not a solution.
    if (sentences.every((s) => s.type === 'TXT')) return undefined;

    const merged = mergeEpoch(sentences);
    const day = this.#dayOf(sentences, tod);
    let time: number | undefined;
    if (tod !== undefined) {
      this.#lastTimeOfDay = tod;
      if (day !== undefined) time = day + Math.min(tod, DAY_MS - 1);
    }
    this.#epochs++;
    // A fixed key order keeps `nrec nmea` output readable and diffable.
    return {
      time,
      timeOfDayMs: tod,
      leapSecond: tod !== undefined && tod >= DAY_MS ? true : undefined,
      lat: merged.lat,
      lon: merged.lon,
      altitudeM: merged.altitudeM,
      speedMps: merged.speedMps,
      courseDeg: merged.courseDeg,
      fixType: merged.fixType,
      valid: merged.valid,
      satsUsed: merged.satsUsed,
      satsInView: merged.satsInView,
      hdop: merged.hdop,
      pdop: merged.pdop,
      vdop: merged.vdop,
      accuracyM: merged.accuracyM,
      accuracySource: merged.accuracySource,
      talkers: merged.talkers,
      sources: merged.sources,
    };
  }

  /** Midnight (epoch ms) of the epoch's date: its own RMC/ZDA date, else the last one, advanced past midnight. */
  #dayOf(sentences: readonly Sentence[], tod: number | undefined): number | undefined {
    let own: number | undefined;
    for (const s of sentences) {
      // ZDA's four-digit year beats RMC's two-digit one.
      if (s.type === 'ZDA' && s.date !== undefined) own = dateMs(s.date);
      else if (s.type === 'RMC' && s.date !== undefined && own === undefined) own = dateMs(s.date);
    }
    if (own !== undefined) {
      this.#lastDateMs = own;
      return own;
    }
    if (this.#lastDateMs === undefined || tod === undefined) return undefined;
    if (this.#lastTimeOfDay !== undefined && tod < this.#lastTimeOfDay - HALF_DAY_MS) this.#lastDateMs += DAY_MS;
    return this.#lastDateMs;
  }
}
