// Typed NMEA 0183 sentences as the parser hands them out. Every optional field
// is `undefined` when the receiver left it empty (acquiring, no fix), never 0
// or NaN, so "no data" can never be mistaken for "zero".

/**
 * Which fields a decoder set, as a bit mask (gpsd's `gps_mask_t` idea): the fix
 * assembler merges by these bits instead of probing every property.
 */
export const FieldSet = {
  TIME: 1 << 0,
  DATE: 1 << 1,
  LATLON: 1 << 2,
  ALTITUDE: 1 << 3,
  GEOID_SEP: 1 << 4,
  SPEED: 1 << 5,
  COURSE: 1 << 6,
  MAGVAR: 1 << 7,
  STATUS: 1 << 8,
  MODE: 1 << 9,
  QUALITY: 1 << 10,
  NAV_STATUS: 1 << 11,
  SATS_USED: 1 << 12,
  SATS_IN_VIEW: 1 << 13,
  SATELLITES: 1 << 14,
  PDOP: 1 << 15,
  HDOP: 1 << 16,
  VDOP: 1 << 17,
  SYSTEM_ID: 1 << 18,
  SIGNAL_ID: 1 << 19,
  DIFF: 1 << 20,
  ERROR_ELLIPSE: 1 << 21,
  POS_STDDEV: 1 << 22,
  ALT_STDDEV: 1 << 23,
  ZONE: 1 << 24,
  TEXT: 1 << 25,
  MESSAGE_PART: 1 << 26,
} as const;

/** Names of the bits set in a FieldSet mask, for logs and tests. */
export function describeFieldSet(mask: number): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(FieldSet)) if ((mask & bit) !== 0) names.push(name);
  return names;
}

/**
 * FAA mode indicator (NMEA 2.3+; RMC, GLL, VTG, and per constellation in GNS):
 * A autonomous, D differential, E estimated (dead reckoning), F float RTK,
 * M manual input, N not valid, P precise, R real-time kinematic, S simulator.
 */
export type ModeIndicator = 'A' | 'D' | 'E' | 'F' | 'M' | 'N' | 'P' | 'R' | 'S';

/** A calendar date in UTC (month 1–12, day 1–31). */
export interface UtcDate {
  year: number;
  month: number;
  day: number;
}

interface SentenceBase {
  /** Two-letter talker id: GP, GN, GL, GA, GB, BD, GQ, GI, ... */
  talker: string;
  /** FieldSet bits of the fields this sentence carried. */
  set: number;
}

/** Time fields are milliseconds since UTC midnight; a leap second (23:59:60.x) reads 86 400 000 + x. */
export interface Rmc extends SentenceBase {
  type: 'RMC';
  timeOfDayMs?: number;
  /** A = data valid, V = navigation receiver warning (no fix). */
  status?: 'A' | 'V';
  lat?: number;
  lon?: number;
  speedKnots?: number;
  courseDeg?: number;
  /** Two-digit year yy → 2000 + yy when yy < 80, else 1900 + yy (see nmea-fields.ts). */
  date?: UtcDate;
  /** Magnetic variation, degrees, east positive. */
  magVarDeg?: number;
  mode?: ModeIndicator;
  /** NMEA 4.1 navigational status: S safe, C caution, U unsafe, V not valid. */
  navStatus?: string;
}

export interface Gga extends SentenceBase {
  type: 'GGA';
  timeOfDayMs?: number;
  lat?: number;
  lon?: number;
  /** 0 invalid, 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float, 6 estimated, 7 manual, 8 simulator. */
  quality?: number;
  satsUsed?: number;
  hdop?: number;
  /** Altitude above mean sea level, metres. */
  altitudeM?: number;
  /** Geoid separation (ellipsoid − MSL), metres. */
  geoidSepM?: number;
  diffAgeS?: number;
  diffStation?: string;
}

export interface Gsa extends SentenceBase {
  type: 'GSA';
  /** M manual (forced 2D/3D), A automatic. */
  selectionMode?: string;
  /** 1 no fix, 2 2D, 3 3D. */
  fixMode?: number;
  /** Satellites used in the solution (empty slots dropped). */
  prns: number[];
  pdop?: number;
  hdop?: number;
  vdop?: number;
  /** NMEA 4.1 GNSS system id: 1 GPS, 2 GLONASS, 3 Galileo, 4 BeiDou, 5 QZSS, 6 NavIC. */
  systemId?: number;
}

export interface SatelliteInView {
  prn: number;
  elevationDeg?: number;
  azimuthDeg?: number;
  /** Carrier-to-noise, dB-Hz; undefined when the satellite is not tracked. */
  snrDb?: number;
}

export interface Gsv extends SentenceBase {
  type: 'GSV';
  totalMessages?: number;
  messageNumber?: number;
  satsInView?: number;
  satellites: SatelliteInView[];
  /** NMEA 4.1 signal id (e.g. 1 = GPS L1 C/A), hex digit in the sentence. */
  signalId?: number;
}

export interface Vtg extends SentenceBase {
  type: 'VTG';
  courseTrueDeg?: number;
  courseMagDeg?: number;
  speedKnots?: number;
  speedKmh?: number;
  mode?: ModeIndicator;
}

export interface Gll extends SentenceBase {
  type: 'GLL';
  lat?: number;
  lon?: number;
  timeOfDayMs?: number;
  status?: 'A' | 'V';
  mode?: ModeIndicator;
}

export interface Zda extends SentenceBase {
  type: 'ZDA';
  timeOfDayMs?: number;
  date?: UtcDate;
  zoneHours?: number;
  zoneMinutes?: number;
}

export interface Gst extends SentenceBase {
  type: 'GST';
  timeOfDayMs?: number;
  /** RMS of the pseudorange residuals, metres. */
  rmsM?: number;
  semiMajorM?: number;
  semiMinorM?: number;
  orientationDeg?: number;
  latSdM?: number;
  lonSdM?: number;
  altSdM?: number;
}

export interface Gns extends SentenceBase {
  type: 'GNS';
  timeOfDayMs?: number;
  lat?: number;
  lon?: number;
  /** One mode indicator per constellation: GPS, GLONASS, Galileo, BeiDou, QZSS, NavIC (as many as the receiver sends). */
  modes?: ModeIndicator[];
  satsUsed?: number;
  hdop?: number;
  altitudeM?: number;
  geoidSepM?: number;
  diffAgeS?: number;
  diffStation?: string;
  navStatus?: string;
}

export interface Txt extends SentenceBase {
  type: 'TXT';
  totalMessages?: number;
  messageNumber?: number;
  /** 00 error, 01 warning, 02 notice, 07 user (u-blox). */
  textId?: number;
  text: string;
}

export type Sentence = Rmc | Gga | Gsa | Gsv | Vtg | Gll | Zda | Gst | Gns | Txt;
export type SentenceType = Sentence['type'];

export type ParseFailure = 'empty' | 'too-long' | 'no-start' | 'bad-checksum' | 'missing-checksum' | 'malformed' | 'proprietary' | 'unknown';

export type ParseResult = { ok: true; sentence: Sentence } | { ok: false; reason: ParseFailure; detail: string };
