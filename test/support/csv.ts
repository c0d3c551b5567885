import type { PositionView } from '../../platform/store/index.js';

/** RFC 4180 records: quoted fields with "" for a quote, CRLF (or LF) line ends; refuses a stray quote or an unterminated field. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let atStart = true;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
        if (i < text.length && !/[,\r\n]/.test(text[i])) throw new Error(`CSV: text after a closing quote at offset ${i}`);
      } else {
        field += c;
        i++;
      }
      continue;
    }
    if (c === '"') {
      if (!atStart) throw new Error(`CSV: a quote inside an unquoted field at offset ${i}`);
      quoted = true;
      atStart = false;
      i++;
    } else if (c === ',') {
      row.push(field);
      field = '';
      atStart = true;
      i++;
    } else if (c === '\r' || c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      atStart = true;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      atStart = false;
      i++;
    }
  }
  if (quoted) throw new Error('CSV: unterminated quoted field');
  if (!atStart || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Positions from the API's CSV export (header row names the columns). */
export function readCsvPositions(text: string): PositionView[] {
  const [header, ...records] = parseCsv(text);
  return records.map((r) => {
    const f = Object.fromEntries(header.map((h, k) => [h, r[k]])) as Record<string, string>;
    const num = (s: string) => (s === '' ? undefined : Number(s));
    const p: PositionView = {
      deviceId: f.device_id, msgId: f.msg_id, fixTime: Number(f.fix_time), rx: Number(f.rx), ts: Number(f.ts), lat: Number(f.lat), lon: Number(f.lon),
      altM: num(f.alt_m), speedMps: num(f.speed_mps), courseDeg: num(f.course_deg), accuracyM: num(f.accuracy_m), fixType: f.fix_type as PositionView['fixType'],
      satsUsed: num(f.sats_used), clock: (f.clock || undefined) as PositionView['clock'], stale: f.stale === 'true', reason: f.reason || undefined, backfill: f.backfill === 'true',
    };
    if (Date.parse(f.fix_time_iso) !== p.fixTime) throw new Error(`CSV: fix_time_iso ${f.fix_time_iso} differs from fix_time ${f.fix_time}`);
    for (const k of Object.keys(p) as Array<keyof PositionView>) if (p[k] === undefined) delete p[k];
    return p;
  });
}

/** Positions from the API's GeoJSON export. */
export function readGeoJsonPositions(doc: { type: string; features: Array<{ type: string; geometry: { type: string; coordinates: number[] }; properties: Record<string, unknown> }> }): PositionView[] {
  if (doc.type !== 'FeatureCollection') throw new Error(`GeoJSON: type ${doc.type}, expected FeatureCollection`);
  return doc.features.map((f) => {
    if (f.type !== 'Feature' || f.geometry.type !== 'Point') throw new Error('GeoJSON: expected Point features');
    const [lon, lat, alt] = f.geometry.coordinates;
    const { time, ...props } = f.properties;
    if (Date.parse(String(time)) !== props.fixTime) throw new Error(`GeoJSON: time ${String(time)} differs from fixTime ${String(props.fixTime)}`);
    return { ...(props as Omit<PositionView, 'lat' | 'lon' | 'altM'>), lat, lon, ...(alt === undefined ? {} : { altM: alt }) } as PositionView;
  });
}
