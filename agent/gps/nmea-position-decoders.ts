// Decoders for the sentences that carry position, motion and time: RMC, GGA,
// GLL, GNS, VTG, ZDA. Each checks the field count first (minimums follow the
// oldest layout still seen in the field, like gpsd's table) and reads later
// additions (NMEA 2.3 mode, 4.1 nav status) only when present. Field numbers
// in the comments are the standard's, 1-based after the address. `set` comes
// last in each literal so it is read after every field has been decoded
// (setting it afterwards was a megamorphic store across ten shapes, ~4 %).

import type { FieldReader } from './nmea-fields.js';
import { FieldSet, type Gga, type Gll, type Gns, type Rmc, type Vtg, type Zda } from './nmea-types.js';

/** Nav status (4.1): S safe, C caution, U unsafe, V not valid. */
const NAV_STATUS = 'SCUV';

/**
 * $--RMC,time,status,lat,N/S,lon,E/W,speed kn,course,ddmmyy,magvar,E/W[,mode[,navstatus]]
 * 9 fields is the NMEA 1.5 minimum; 2.3 adds the mode, 4.1 the nav status.
 * The variation's direction may be missing (11 fields, older SiRF): like gpsd,
 * the variation is then absent and the mode is read only from a 12th field.
 */
export function decodeRmc(r: FieldReader, talker: string): Rmc | undefined {
  if (!r.need(9)) return undefined;
  return {
    type: 'RMC',
    talker,
    timeOfDayMs: r.time(1),
    status: r.letter<'A' | 'V'>(2, FieldSet.STATUS, 'AV'),
    lat: r.coordinate(3, true),
    lon: r.coordinate(5, false),
    speedKnots: r.num(7, FieldSet.SPEED),
    courseDeg: r.num(8, FieldSet.COURSE),
    date: r.ddmmyy(9),
    magVarDeg: r.optionalEastWest(10, FieldSet.MAGVAR),
    mode: r.mode(12),
    navStatus: r.letter(13, FieldSet.NAV_STATUS, NAV_STATUS),
    set: r.set,
  };
}

/** $--GGA,time,lat,N/S,lon,E/W,quality,sats,hdop,alt,M,sep,M[,diff age,diff station] */
export function decodeGga(r: FieldReader, talker: string): Gga | undefined {
  if (!r.need(12)) return undefined;
  const quality = r.int(6, FieldSet.QUALITY);
  return {
    type: 'GGA',
    talker,
    timeOfDayMs: r.time(1),
    lat: r.coordinate(2, true),
    lon: r.coordinate(4, false),
    quality,
    satsUsed: r.int(7, FieldSet.SATS_USED),
    hdop: r.num(8, FieldSet.HDOP),
    altitudeM: r.num(9, FieldSet.ALTITUDE),
    geoidSepM: r.num(11, FieldSet.GEOID_SEP),
    diffAgeS: r.num(13, FieldSet.DIFF),
    diffStation: r.str(14, FieldSet.DIFF),
    set: r.set,
  };
}

/** $--GLL,lat,N/S,lon,E/W,time,status[,mode] (the time and status arrived in NMEA 2.0). */
export function decodeGll(r: FieldReader, talker: string): Gll | undefined {
  if (!r.need(6)) return undefined;
  return {
    type: 'GLL',
    talker,
    lat: r.coordinate(1, true),
    lon: r.coordinate(3, false),
    timeOfDayMs: r.time(5),
    status: r.letter<'A' | 'V'>(6, FieldSet.STATUS, 'AV'),
    mode: r.mode(7),
    set: r.set,
  };
}

/** $--GNS,time,lat,N/S,lon,E/W,modes,sats,hdop,alt,sep,diff age,diff station[,navstatus] */
export function decodeGns(r: FieldReader, talker: string): Gns | undefined {
  if (!r.need(12)) return undefined;
  return {
    type: 'GNS',
    talker,
    timeOfDayMs: r.time(1),
    lat: r.coordinate(2, true),
    lon: r.coordinate(4, false),
    modes: r.modes(6),
    satsUsed: r.int(7, FieldSet.SATS_USED),
    hdop: r.num(8, FieldSet.HDOP),
    altitudeM: r.num(9, FieldSet.ALTITUDE),
    geoidSepM: r.num(10, FieldSet.GEOID_SEP),
    diffAgeS: r.num(11, FieldSet.DIFF),
    diffStation: r.str(12, FieldSet.DIFF),
    navStatus: r.letter(13, FieldSet.NAV_STATUS, NAV_STATUS),
    set: r.set,
  };
}

/** $--VTG,course,T,course,M,speed,N,speed,K[,mode] */
export function decodeVtg(r: FieldReader, talker: string): Vtg | undefined {
  if (!r.need(8)) return undefined;
  return {
    type: 'VTG',
    talker,
    courseTrueDeg: r.num(1, FieldSet.COURSE),
    courseMagDeg: r.num(3, FieldSet.COURSE),
    speedKnots: r.num(5, FieldSet.SPEED),
    speedKmh: r.num(7, FieldSet.SPEED),
    mode: r.mode(9),
    set: r.set,
  };
}

/** $--ZDA,time,day,month,year,zone hours,zone minutes */
export function decodeZda(r: FieldReader, talker: string): Zda | undefined {
  if (!r.need(4)) return undefined;
  return {
    type: 'ZDA',
    talker,
    timeOfDayMs: r.time(1),
    date: r.dayMonthYear(2),
    zoneHours: r.int(5, FieldSet.ZONE),
    zoneMinutes: r.int(6, FieldSet.ZONE),
    set: r.set,
  };
}
