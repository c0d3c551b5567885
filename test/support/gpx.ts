import { GPX_NREC_NS, GPX_NS, GPX_TPX_NS } from '../../platform/api/position-export.js';
import type { PositionView } from '../../platform/store/index.js';
import type { XmlElement } from './xml.js';

/*
 * GPX 1.1 checked against the structure of its schema
 * (http://www.topografix.com/GPX/1/1/gpx.xsd, which a test cannot download):
 * gpxType, metadataType, trkType, trksegType, wptType and boundsType with
 * their element order and cardinality, the attribute types (latitudeType,
 * longitudeType, xsd:decimal, xsd:dateTime, fixType, nonNegativeInteger) and
 * extensionsType (elements from other namespaces only). Then read back into
 * positions through our extensions.
 */

type Seq = ReadonlyArray<readonly [name: string, min: number, max: number]>;
const MANY = Infinity;

const GPX_SEQ: Seq = [['metadata', 0, 1], ['wpt', 0, MANY], ['rte', 0, MANY], ['trk', 0, MANY], ['extensions', 0, 1]];
const METADATA_SEQ: Seq = [['name', 0, 1], ['desc', 0, 1], ['author', 0, 1], ['copyright', 0, 1], ['link', 0, MANY], ['time', 0, 1], ['keywords', 0, 1], ['bounds', 0, 1], ['extensions', 0, 1]];
const TRK_SEQ: Seq = [['name', 0, 1], ['cmt', 0, 1], ['desc', 0, 1], ['src', 0, 1], ['link', 0, MANY], ['number', 0, 1], ['type', 0, 1], ['extensions', 0, 1], ['trkseg', 0, MANY]];
const TRKSEG_SEQ: Seq = [['trkpt', 0, MANY], ['extensions', 0, 1]];
const WPT_SEQ: Seq = [
  ['ele', 0, 1], ['time', 0, 1], ['magvar', 0, 1], ['geoidheight', 0, 1], ['name', 0, 1], ['cmt', 0, 1], ['desc', 0, 1], ['src', 0, 1],
  ['link', 0, MANY], ['sym', 0, 1], ['type', 0, 1], ['fix', 0, 1], ['sat', 0, 1], ['hdop', 0, 1], ['vdop', 0, 1], ['pdop', 0, 1],
  ['ageofdgpsdata', 0, 1], ['dgpsid', 0, 1], ['extensions', 0, 1],
];
const TPX_SEQ: Seq = [['atemp', 0, 1], ['wtemp', 0, 1], ['depth', 0, 1], ['hr', 0, 1], ['cad', 0, 1], ['speed', 0, 1], ['course', 0, 1], ['bearing', 0, 1], ['Extensions', 0, 1]];

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const DATETIME = /^-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
const FIX = new Set(['none', '2d', '3d', 'dgps', 'pps']);

function sequence(el: XmlElement, seq: Seq, ns: string, where: string, problems: string[]): void {
  let k = 0;
  let count = 0;
  for (const c of el.children) {
    if (c.ns !== ns) {
      problems.push(`${where}: <${c.name}> is not in the namespace ${ns}`);
      continue;
    }
    while (k < seq.length && seq[k][0] !== c.local) {
      if (count < seq[k][1]) problems.push(`${where}: <${seq[k][0]}> is required before <${c.local}>`);
      k++;
      count = 0;
    }
    if (k === seq.length) {
      problems.push(`${where}: <${c.local}> is not allowed here (out of order or unknown)`);
      return;
    }
    count++;
    if (count > seq[k][2]) problems.push(`${where}: more than ${seq[k][2]} <${c.local}>`);
  }
}

const child = (el: XmlElement, local: string, ns = GPX_NS) => el.children.find((c) => c.local === local && c.ns === ns);
const children = (el: XmlElement, local: string, ns = GPX_NS) => el.children.filter((c) => c.local === local && c.ns === ns);

function noAttrs(el: XmlElement, allowed: string[], where: string, problems: string[]): void {
  for (const a of Object.keys(el.attrs)) if (!allowed.includes(a) && !a.startsWith('xmlns')) problems.push(`${where}: attribute ${a} is not declared`);
}

function simple(el: XmlElement | undefined, re: RegExp, where: string, problems: string[]): void {
  if (el === undefined) return;
  if (el.children.length > 0) problems.push(`${where}: <${el.local}> has child elements`);
  if (!re.test(el.text)) problems.push(`${where}: <${el.local}> "${el.text}" does not match ${re}`);
}

function latLon(el: XmlElement, where: string, problems: string[], latName = 'lat', lonName = 'lon'): void {
  for (const [a, lo, hi, hiOpen] of [[latName, -90, 90, false], [lonName, -180, 180, true]] as const) {
    const v = el.attrs[a];
    if (v === undefined) problems.push(`${where}: attribute ${a} is required`);
    else if (!DECIMAL.test(v)) problems.push(`${where}: ${a}="${v}" is not an xsd:decimal`);
    else if (Number(v) < lo || (hiOpen ? Number(v) >= hi : Number(v) > hi)) problems.push(`${where}: ${a}="${v}" is out of range`);
  }
}

function extensions(el: XmlElement | undefined, where: string, problems: string[]): void {
  if (el === undefined) return;
  for (const c of el.children) if (c.ns === GPX_NS || c.ns === '') problems.push(`${where}: extension <${c.name}> must be in another namespace`);
  for (const c of el.children) if (c.ns === GPX_TPX_NS && c.local === 'TrackPointExtension') sequence(c, TPX_SEQ, GPX_TPX_NS, `${where}/TrackPointExtension`, problems);
}

/** Every way the document departs from the GPX 1.1 schema's structure (empty: conforms). */
export function checkGpx11(root: XmlElement): string[] {
  const problems: string[] = [];
  if (root.local !== 'gpx' || root.ns !== GPX_NS) return [`the root is <${root.name}> in "${root.ns}", not <gpx> in ${GPX_NS}`];
  if (root.attrs.version !== '1.1') problems.push(`gpx version="${root.attrs.version}", must be 1.1`);
  if (root.attrs.creator === undefined) problems.push('gpx creator is required');
  noAttrs(root, ['version', 'creator', 'xsi:schemaLocation'], 'gpx', problems);
  sequence(root, GPX_SEQ, GPX_NS, 'gpx', problems);
  const meta = child(root, 'metadata');
  if (meta !== undefined) {
    sequence(meta, METADATA_SEQ, GPX_NS, 'metadata', problems);
    simple(child(meta, 'time'), DATETIME, 'metadata', problems);
    const b = child(meta, 'bounds');
    if (b !== undefined) {
      latLon(b, 'bounds', problems, 'minlat', 'minlon');
      latLon(b, 'bounds', problems, 'maxlat', 'maxlon');
      noAttrs(b, ['minlat', 'minlon', 'maxlat', 'maxlon'], 'bounds', problems);
    }
    extensions(child(meta, 'extensions'), 'metadata', problems);
  }
  children(root, 'trk').forEach((trk, t) => {
    sequence(trk, TRK_SEQ, GPX_NS, `trk[${t}]`, problems);
    children(trk, 'trkseg').forEach((seg, s) => {
      sequence(seg, TRKSEG_SEQ, GPX_NS, `trk[${t}]/trkseg[${s}]`, problems);
      children(seg, 'trkpt').forEach((pt, n) => {
        const where = `trk[${t}]/trkseg[${s}]/trkpt[${n}]`;
        latLon(pt, where, problems);
        noAttrs(pt, ['lat', 'lon'], where, problems);
        sequence(pt, WPT_SEQ, GPX_NS, where, problems);
        simple(child(pt, 'ele'), DECIMAL, where, problems);
        simple(child(pt, 'time'), DATETIME, where, problems);
        simple(child(pt, 'sat'), /^\+?\d+$/, where, problems);
        const fix = child(pt, 'fix');
        if (fix !== undefined && !FIX.has(fix.text)) problems.push(`${where}: fix "${fix.text}" is not one of ${[...FIX].join(', ')}`);
        extensions(child(pt, 'extensions'), where, problems);
      });
    });
  });
  return problems;
}

/** The positions of a GPX written by toGpx (device from the track name, the rest from the extensions). */
export function readGpxPositions(root: XmlElement): PositionView[] {
  const out: PositionView[] = [];
  for (const trk of children(root, 'trk')) {
    const deviceId = child(trk, 'name')!.text;
    for (const seg of children(trk, 'trkseg')) {
      for (const pt of children(seg, 'trkpt')) {
        const ext = child(pt, 'extensions')!;
        const n = (local: string) => child(ext, local, GPX_NREC_NS)?.text;
        const tpx = child(ext, 'TrackPointExtension', GPX_TPX_NS);
        const t = (local: string) => (tpx === undefined ? undefined : child(tpx, local, GPX_TPX_NS)?.text);
        const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
        const p: PositionView = {
          deviceId,
          msgId: n('msgId')!,
          fixTime: Date.parse(child(pt, 'time')!.text),
          rx: Number(n('rx')),
          ts: Number(n('ts')),
          lat: Number(pt.attrs.lat),
          lon: n('lon') !== undefined ? Number(n('lon')) : Number(pt.attrs.lon),
          altM: num(child(pt, 'ele')?.text),
          speedMps: num(t('speed')),
          courseDeg: num(t('course')),
          accuracyM: num(n('accuracyM')),
          fixType: n('fixType') as PositionView['fixType'],
          satsUsed: num(child(pt, 'sat')?.text),
          clock: n('clock') as PositionView['clock'],
          stale: n('stale') === 'true',
          reason: n('reason'),
          backfill: n('backfill') === 'true',
        };
        for (const k of Object.keys(p) as Array<keyof PositionView>) if (p[k] === undefined) delete p[k];
        out.push(p);
      }
    }
  }
  return out;
}
