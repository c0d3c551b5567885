import type { PositionView } from '../store/index.js';

/*
 * Positions as GeoJSON (RFC 7946), GPX 1.1 and CSV (RFC 4180). Each carries
 * every field of the stored position, so an export read back gives the same
 * points: numbers are written in JavaScript's shortest round-trip form
 * (plain decimal notation where the format needs xsd:decimal).
 */

export const GPX_NS = 'http://www.topografix.com/GPX/1/1';
/** Garmin's TrackPointExtension v2: speed and course as GPX 1.1 tools read them. */
export const GPX_TPX_NS = 'http://www.garmin.com/xmlschemas/TrackPointExtension/v2';
/** The rest of a stored position (message id, accuracy, nrec's fix type, clock, flags, receipt). */
export const GPX_NREC_NS = 'urn:nrec:gpx:1';

const iso = (ms: number) => new Date(ms).toISOString();

/** A finite number in plain decimal notation (xsd:decimal has no exponent), digits unchanged. */
export function decimal(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`cannot write ${n} as a decimal`);
  const s = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const [, sign, int, frac = '', expText] = m;
  const exp = Number(expText);
  const digits = int + frac;
  const point = int.length + exp;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** [minLon, minLat, maxLon, maxLat] (a loop: 100,000 positions are too many arguments for Math.min). */
function bounds(positions: readonly PositionView[], lonOf: (p: PositionView) => number): [number, number, number, number] {
  const b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const p of positions) {
    const lon = lonOf(p);
    b[0] = Math.min(b[0], lon);
    b[1] = Math.min(b[1], p.lat);
    b[2] = Math.max(b[2], lon);
    b[3] = Math.max(b[3], p.lat);
  }
  return b;
}

/** GPX longitudes are -180 <= lon < 180: 180 is the same meridian as -180. */
const gpxLon = (p: PositionView) => (p.lon === 180 ? -180 : p.lon);

function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

// ---- GeoJSON

export interface GeoJsonFeatureCollection {
  type: 'FeatureCollection';
  bbox?: [number, number, number, number];
  features: Array<{
    type: 'Feature';
    geometry: { type: 'Point'; coordinates: [number, number] | [number, number, number] };
    properties: Record<string, unknown>;
  }>;
}

/** One Point feature per position ([lon, lat(, alt)]); the other fields, and the fix time as ISO 8601, in its properties. */
export function toGeoJson(positions: readonly PositionView[]): GeoJsonFeatureCollection {
  const features = positions.map((p) => {
    const { lat, lon, altM, ...rest } = p;
    return {
      type: 'Feature' as const,
      geometry: { type: 'Point' as const, coordinates: (altM === undefined ? [lon, lat] : [lon, lat, altM]) as [number, number] | [number, number, number] },
      properties: { ...rest, time: iso(p.fixTime) },
    };
  });
  const out: GeoJsonFeatureCollection = { type: 'FeatureCollection', features };
  if (positions.length > 0) out.bbox = bounds(positions, (p) => p.lon);
  return out;
}

// ---- CSV

export const CSV_COLUMNS = [
  'device_id', 'msg_id', 'fix_time_iso', 'fix_time', 'lat', 'lon', 'alt_m', 'speed_mps', 'course_deg', 'accuracy_m',
  'fix_type', 'sats_used', 'clock', 'stale', 'reason', 'backfill', 'rx', 'ts',
] as const;

function csvField(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180: a header row, CRLF line ends, empty fields for what the fix did not have. */
export function toCsv(positions: readonly PositionView[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const p of positions) {
    rows.push([
      p.deviceId, p.msgId, iso(p.fixTime), p.fixTime, p.lat, p.lon, p.altM, p.speedMps, p.courseDeg, p.accuracyM,
      p.fixType, p.satsUsed, p.clock, p.stale, p.reason, p.backfill, p.rx, p.ts,
    ].map(csvField).join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

// ---- GPX 1.1

/** GPX's fix vocabulary (none, 2d, 3d, dgps, pps); RTK is differential; an estimate (dead reckoning) has no GPX fix. */
const GPX_FIX: Record<PositionView['fixType'], string | undefined> = { none: 'none', '2d': '2d', '3d': '3d', dgps: 'dgps', rtk: 'dgps', estimated: undefined };

function trkpt(p: PositionView): string {
  const lines = [`<trkpt lat="${decimal(p.lat)}" lon="${decimal(gpxLon(p))}">`];
  // wptType's sequence order: ele, time, …, fix, sat, …, extensions.
  if (p.altM !== undefined) lines.push(`<ele>${decimal(p.altM)}</ele>`);
  lines.push(`<time>${iso(p.fixTime)}</time>`);
  const fix = GPX_FIX[p.fixType];
  if (fix !== undefined) lines.push(`<fix>${fix}</fix>`);
  if (p.satsUsed !== undefined) lines.push(`<sat>${p.satsUsed}</sat>`);
  const ext = ['<extensions>'];
  if (p.speedMps !== undefined || p.courseDeg !== undefined) {
    ext.push('<gpxtpx:TrackPointExtension>');
    // Its sequence order: …, speed, course, ….
    if (p.speedMps !== undefined) ext.push(`<gpxtpx:speed>${decimal(p.speedMps)}</gpxtpx:speed>`);
    if (p.courseDeg !== undefined) ext.push(`<gpxtpx:course>${decimal(p.courseDeg)}</gpxtpx:course>`);
    ext.push('</gpxtpx:TrackPointExtension>');
  }
  ext.push(`<nrec:msgId>${xml(p.msgId)}</nrec:msgId>`, `<nrec:fixType>${p.fixType}</nrec:fixType>`);
  if (p.lon === 180) ext.push('<nrec:lon>180</nrec:lon>');
  if (p.accuracyM !== undefined) ext.push(`<nrec:accuracyM>${decimal(p.accuracyM)}</nrec:accuracyM>`);
  if (p.clock !== undefined) ext.push(`<nrec:clock>${p.clock}</nrec:clock>`);
  if (p.reason !== undefined) ext.push(`<nrec:reason>${xml(p.reason)}</nrec:reason>`);
  ext.push(`<nrec:stale>${p.stale}</nrec:stale>`, `<nrec:backfill>${p.backfill}</nrec:backfill>`, `<nrec:rx>${p.rx}</nrec:rx>`, `<nrec:ts>${p.ts}</nrec:ts>`, '</extensions>');
  return [...lines, ...ext, '</trkpt>'].join('');
}

/** One track of one segment (the positions in the order given); metadata with the time written and the bounds. */
export function toGpx(deviceId: string, positions: readonly PositionView[], now: number): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<gpx version="1.1" creator="nrec" xmlns="${GPX_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gpxtpx="${GPX_TPX_NS}" xmlns:nrec="${GPX_NREC_NS}" xsi:schemaLocation="${GPX_NS} http://www.topografix.com/GPX/1/1/gpx.xsd ${GPX_TPX_NS} http://www8.garmin.com/xmlschemas/TrackPointExtensionv2.xsd">`,
    '<metadata>',
    `<name>${xml(deviceId)}</name>`,
    `<time>${iso(now)}</time>`,
  ];
  if (positions.length > 0) {
    const [minLon, minLat, maxLon, maxLat] = bounds(positions, gpxLon);
    out.push(`<bounds minlat="${decimal(minLat)}" minlon="${decimal(minLon)}" maxlat="${decimal(maxLat)}" maxlon="${decimal(maxLon)}"/>`);
  }
  out.push('</metadata>', '<trk>', `<name>${xml(deviceId)}</name>`, '<trkseg>');
  for (const p of positions) out.push(trkpt(p));
  out.push('</trkseg>', '</trk>', '</gpx>');
  return `${out.join('\n')}\n`;
}
