// Decoders for the sentences about satellites, error estimates and receiver
// text: GSA, GSV, GST, TXT. GSA and GSV have variable length (receivers list
// more or fewer satellites, NMEA 4.1 appends a system or signal id), so their
// layout is worked out from the field count before reading. As in the
// position decoders, `set` comes last in each literal.

import type { FieldReader } from './nmea-fields.js';
import { FieldSet, type Gsa, type Gst, type Gsv, type SatelliteInView, type Txt } from './nmea-types.js';

const HEX = '0123456789ABCDEF';

/**
 * $--GSA,mode,fix,prn×12,pdop,hdop,vdop[,system id]
 * Standard is 12 PRN slots; a few multi-GNSS receivers send more. The 4.1
 * system id is a single hex digit, which no DOP value ever is once a 17th
 * field exists, so "last field is one hex digit" tells the layouts apart.
 */
export function decodeGsa(r: FieldReader, talker: string): Gsa | undefined {
  if (!r.need(16)) return undefined;
  const n = r.count;
  const hasSystem = n >= 18 && r.hexDigitAt(n) !== -2;
  const lastDop = hasSystem ? n - 1 : n;
  // 16 fields: an old layout without VDOP.
  const pdopAt = n === 16 ? 15 : lastDop - 2;
  const prns: number[] = [];
  for (let i = 3; i < pdopAt; i++) {
    const prn = r.int(i, FieldSet.SATELLITES);
    if (prn !== undefined) prns.push(prn);
  }
  return {
    type: 'GSA',
    talker,
    selectionMode: r.letter(1, FieldSet.MODE, 'AM'),
    fixMode: r.int(2, FieldSet.MODE),
    prns,
    pdop: r.num(pdopAt, FieldSet.PDOP),
    hdop: r.num(pdopAt + 1, FieldSet.HDOP),
    vdop: n === 16 ? undefined : r.num(pdopAt + 2, FieldSet.VDOP),
    systemId: hasSystem ? r.hex(n, FieldSet.SYSTEM_ID) : undefined,
    set: r.set,
  };
}

/**
 * $--GSV,total,number,in view{,prn,elev,azim,snr}×0..4[,signal id]
 * A group count that leaves one field over means a 4.1 signal id; two or
 * three over is a truncated last group, read as far as it goes.
 */
export function decodeGsv(r: FieldReader, talker: string): Gsv | undefined {
  if (!r.need(3)) return undefined;
  const n = r.count;
  const over = (n - 3) % 4;
  const satEnd = over === 1 ? n : n + 1;
  const satellites: SatelliteInView[] = [];
  for (let i = 4; i < satEnd; i += 4) {
    const prn = r.int(i, FieldSet.SATELLITES);
    // Some receivers pad the last message with empty groups.
    if (prn === undefined) continue;
    satellites.push({
      prn,
      elevationDeg: i + 1 < satEnd ? r.num(i + 1, FieldSet.SATELLITES) : undefined,
      azimuthDeg: i + 2 < satEnd ? r.num(i + 2, FieldSet.SATELLITES) : undefined,
      snrDb: i + 3 < satEnd ? r.num(i + 3, FieldSet.SATELLITES) : undefined,
    });
  }
  return {
    type: 'GSV',
    talker,
    totalMessages: r.int(1, FieldSet.MESSAGE_PART),
    messageNumber: r.int(2, FieldSet.MESSAGE_PART),
    satsInView: r.int(3, FieldSet.SATS_IN_VIEW),
    satellites,
    signalId: over === 1 ? r.hex(n, FieldSet.SIGNAL_ID) : undefined,
    set: r.set,
  };
}

/** $--GST,time,rms,semi-major,semi-minor,orientation,lat sd,lon sd,alt sd (all 1-sigma, metres). */
export function decodeGst(r: FieldReader, talker: string): Gst | undefined {
  if (!r.need(7)) return undefined;
  return {
    type: 'GST',
    talker,
    timeOfDayMs: r.time(1),
    rmsM: r.num(2, FieldSet.ERROR_ELLIPSE),
    semiMajorM: r.num(3, FieldSet.ERROR_ELLIPSE),
    semiMinorM: r.num(4, FieldSet.ERROR_ELLIPSE),
    orientationDeg: r.num(5, FieldSet.ERROR_ELLIPSE),
    latSdM: r.num(6, FieldSet.POS_STDDEV),
    lonSdM: r.num(7, FieldSet.POS_STDDEV),
    altSdM: r.num(8, FieldSet.ALT_STDDEV),
    set: r.set,
  };
}

/**
 * $--TXT,total,number,text id,text. Reserved characters inside the text are
 * sent as ^hh (NMEA 3.01+) and decoded here.
 */
export function decodeTxt(r: FieldReader, talker: string): Txt | undefined {
  if (!r.need(4)) return undefined;
  return {
    type: 'TXT',
    talker,
    totalMessages: r.int(1, FieldSet.MESSAGE_PART),
    messageNumber: r.int(2, FieldSet.MESSAGE_PART),
    textId: r.int(3, FieldSet.TEXT),
    text: unescapeText(r.rest(4, FieldSet.TEXT)),
    set: r.set,
  };
}

/** Decodes NMEA ^hh escapes; a malformed escape is kept literally. */
export function unescapeText(text: string): string {
  if (!text.includes('^')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const hi = HEX.indexOf(text[i + 1]?.toUpperCase() ?? '');
    const lo = HEX.indexOf(text[i + 2]?.toUpperCase() ?? '');
    if (text[i] === '^' && hi >= 0 && lo >= 0) {
      out += String.fromCharCode(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}
