// What one epoch of NMEA sentences says about the receiver's position, merged
// into a single Fix. Receivers repeat themselves across sentences (position in
// RMC, GGA, GLL and GNS; HDOP in GGA and GSA), so each quantity has a preferred
// source and the others fill in.

import type { ModeIndicator, Sentence } from './nmea-types.js';

export type FixType = 'none' | '2d' | '3d' | 'dgps' | 'rtk' | 'estimated';

/** One merged epoch. Quantities the receiver did not report are undefined. */
export interface Fix {
  /** Epoch ms UTC; undefined until a date is known (RMC or ZDA). A leap second reads as 23:59:59.999. */
  time: number | undefined;
  /** UTC time of day the receiver reported, ms; 86 400 000+ during a leap second. */
  timeOfDayMs?: number;
  /** True when the receiver reported 23:59:60 (see fix-assembler.ts). */
  leapSecond?: boolean;
  /** Signed decimal degrees, WGS 84; only set on a valid fix. */
  lat?: number;
  lon?: number;
  /** Above mean sea level. */
  altitudeM?: number;
  speedMps?: number;
  /** True course over ground, degrees. */
  courseDeg?: number;
  fixType: FixType;
  /** A position the receiver vouches for; 'estimated' (dead reckoning) counts, flagged by fixType. */
  valid: boolean;
  satsUsed?: number;
  satsInView?: number;
  hdop?: number;
  pdop?: number;
  vdop?: number;
  /** Horizontal 1-sigma radial error in metres (see accuracySource). */
  accuracyM?: number;
  /** 'gst': √(σlat² + σlon²) from GST; 'hdop': HDOP × UERE_M. */
  accuracySource?: 'gst' | 'hdop';
  /** Distinct talker ids seen in the epoch, sorted. */
  talkers: string[];
  /** Distinct talker+type of the sentences merged, in arrival order (e.g. "GNRMC"). */
  sources: string[];
}

/**
 * User equivalent range error assumed when turning HDOP into metres: 5 m is the
 * usual figure for a consumer single-frequency receiver without corrections.
 */
export const UERE_M = 5;

const KNOT_MPS = 1852 / 3600;

/** Receiver's own claim about the solution, before 2D/3D refinement. */
type Claim = 'none' | 'auto' | 'dgps' | 'rtk' | 'estimated';

const CLAIM_RANK: Record<Claim, number> = { none: 0, estimated: 1, auto: 2, dgps: 3, rtk: 4 };

function claimOfMode(mode: ModeIndicator | undefined): Claim | undefined {
  switch (mode) {
    case 'A':
      return 'auto';
    case 'D':
    case 'P':
      return 'dgps';
    case 'F':
    case 'R':
      return 'rtk';
    case 'E':
      return 'estimated';
    case 'N':
    case 'M': // manual input: a typed-in position, not a measurement
    case 'S': // simulator
      return 'none';
    default:
      return undefined;
  }
}

function claimOfQuality(q: number | undefined): Claim | undefined {
  switch (q) {
    case undefined:
      return undefined;
    case 1:
    case 3: // PPS: a fix with precise timing
      return 'auto';
    case 2:
      return 'dgps';
    case 4:
    case 5:
      return 'rtk';
    case 6:
      return 'estimated';
    default: // 0 invalid, 7 manual, 8 simulator, and anything unknown
      return 'none';
  }
}

/** RMC/GLL: status V means no fix whatever the mode says; otherwise the mode refines it. */
function claimOfStatus(status: 'A' | 'V' | undefined, mode: ModeIndicator | undefined): Claim | undefined {
  if (status === 'V') return 'none';
  const byMode = claimOfMode(mode);
  if (byMode !== undefined) return byMode;
  return status === 'A' ? 'auto' : undefined;
}

function claimOfModes(modes: ModeIndicator[] | undefined): Claim | undefined {
  if (modes === undefined) return undefined;
  let best: Claim | undefined;
  for (const m of modes) {
    const c = claimOfMode(m);
    if (c !== undefined && (best === undefined || CLAIM_RANK[c] > CLAIM_RANK[best])) best = c;
  }
  return best;
}

/**
 * GGA: the quality, unless a satellite solution uses fewer than 3 satellites.
 * As gpsd does (driver_nmea0183.c, processGGA), such a GGA is no fix whatever
 * its quality says: a Hemisphere receiver without a solution sends quality 1
 * with 0 satellites. An empty satellite count reads as 0, as there. Dead
 * reckoning (quality 6) is exempt: it is the solution without satellites.
 */
function claimOfGga(s: Extract<Sentence, { type: 'GGA' }>): Claim | undefined {
  const claim = claimOfQuality(s.quality);
  if (claim === undefined || claim === 'none' || claim === 'estimated') return claim;
  return (s.satsUsed ?? 0) < GGA_MIN_SATS ? 'none' : claim;
}

/** Fewer satellites in a GGA solution than this is no fix (gpsd's rule). */
export const GGA_MIN_SATS = 3;

function claimOf(s: Sentence): Claim | undefined {
  switch (s.type) {
    case 'GGA':
      return claimOfGga(s);
    case 'GNS':
      return claimOfModes(s.modes);
    case 'RMC':
    case 'GLL':
      return claimOfStatus(s.status, s.mode);
    case 'VTG':
      return claimOfMode(s.mode);
    case 'GSA':
      return s.fixMode === undefined ? undefined : s.fixMode >= 2 ? 'auto' : 'none';
    default:
      return undefined;
  }
}

/** Sentences whose claim decides the fix type, most informative first. */
const CLAIM_PRECEDENCE = ['GGA', 'GNS', 'RMC', 'GLL', 'VTG', 'GSA'] as const;
/** Sentences that report a position and can therefore veto it with "no fix". */
const POSITION_TYPES = new Set(['GGA', 'GNS', 'RMC', 'GLL']);

/** Merges the sentences of one epoch; the assembler adds the time. */
export function mergeEpoch(sentences: readonly Sentence[]): Omit<Fix, 'time'> {
  const claims = new Map<string, Claim>();
  let veto = false;
  let lat: number | undefined;
  let lon: number | undefined;
  let latRank = 0;
  let altitudeM: number | undefined;
  let speedMps: number | undefined;
  let courseDeg: number | undefined;
  let satsUsed: number | undefined;
  let hdop: number | undefined;
  let pdop: number | undefined;
  let vdop: number | undefined;
  let maxFixMode = 0;
  let gsaSats = 0;
  let sawGsa = false;
  let gstSd: number | undefined;
  const inViewByGroup = new Map<string, number>();
  const talkers = new Set<string>();
  const sources: string[] = [];

  for (const s of sentences) {
    if (s.type === 'TXT') continue;
    talkers.add(s.talker);
    const source = s.talker + s.type;
    if (!sources.includes(source)) sources.push(source);
    const claim = claimOf(s);
    if (claim !== undefined && !claims.has(s.type)) claims.set(s.type, claim);
    if (claim === 'none' && POSITION_TYPES.has(s.type)) veto = true;

    switch (s.type) {
      case 'GGA':
      case 'GNS':
        satsUsed ??= s.satsUsed;
        hdop ??= s.hdop;
        altitudeM ??= s.altitudeM;
        break;
      case 'RMC':
        if (s.speedKnots !== undefined) speedMps ??= s.speedKnots * KNOT_MPS;
        courseDeg ??= s.courseDeg;
        break;
      case 'VTG':
        if (s.speedKnots !== undefined) speedMps ??= s.speedKnots * KNOT_MPS;
        else if (s.speedKmh !== undefined) speedMps ??= s.speedKmh / 3.6;
        courseDeg ??= s.courseTrueDeg;
        break;
      case 'GSA':
        sawGsa = true;
        gsaSats += s.prns.length;
        maxFixMode = Math.max(maxFixMode, s.fixMode ?? 0);
        pdop ??= s.pdop;
        vdop ??= s.vdop;
        if (hdop === undefined && s.hdop !== undefined) hdop = s.hdop;
        break;
      case 'GSV': {
        // With 4.1 signal ids the same satellites are listed once per signal,
        // so count the largest list per constellation, not their sum.
        const group = s.talker;
        if (s.satsInView !== undefined) inViewByGroup.set(group, Math.max(inViewByGroup.get(group) ?? 0, s.satsInView));
        break;
      }
      case 'GST':
        if (s.latSdM !== undefined && s.lonSdM !== undefined) gstSd ??= Math.hypot(s.latSdM, s.lonSdM);
        break;
      default:
        break;
    }

    // Position from the best source that itself claims a fix: GGA/GNS before RMC before GLL.
    if ((s.type === 'GGA' || s.type === 'GNS' || s.type === 'RMC' || s.type === 'GLL') && s.lat !== undefined && s.lon !== undefined) {
      const rank = s.type === 'GLL' ? 1 : s.type === 'RMC' ? 2 : 3;
      if (rank > latRank && claim !== undefined && claim !== 'none') {
        lat = s.lat;
        lon = s.lon;
        latRank = rank;
      }
    }
  }

  let claim: Claim | undefined;
  for (const t of CLAIM_PRECEDENCE) {
    claim = claims.get(t);
    if (claim !== undefined) break;
  }
  if (veto) claim = 'none';
  const fixType = toFixType(claim, maxFixMode, altitudeM);
  const valid = fixType !== 'none' && lat !== undefined && lon !== undefined;
  satsUsed ??= sawGsa ? gsaSats : undefined;
  let satsInView: number | undefined;
  for (const n of inViewByGroup.values()) satsInView = (satsInView ?? 0) + n;

  const fix: Omit<Fix, 'time'> = {
    fixType: valid ? fixType : 'none',
    valid,
    satsUsed,
    satsInView,
    hdop,
    pdop,
    vdop,
    talkers: [...talkers].sort(),
    sources,
  };
  if (valid) {
    fix.lat = lat;
    fix.lon = lon;
    fix.altitudeM = altitudeM;
    fix.speedMps = speedMps;
    fix.courseDeg = courseDeg;
    if (gstSd !== undefined) {
      fix.accuracyM = gstSd;
      fix.accuracySource = 'gst';
    } else if (hdop !== undefined) {
      fix.accuracyM = hdop * UERE_M;
      fix.accuracySource = 'hdop';
    }
  }
  return fix;
}

function toFixType(claim: Claim | undefined, gsaFixMode: number, altitudeM: number | undefined): FixType {
  switch (claim) {
    case undefined:
    case 'none':
      return 'none';
    case 'auto':
      if (gsaFixMode === 2) return '2d';
      if (gsaFixMode === 3) return '3d';
      return altitudeM !== undefined ? '3d' : '2d';
    default:
      return claim;
  }
}
