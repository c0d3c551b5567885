/**
 * Formats NMEA 0183 sentences as a GN (multi-constellation) receiver would
 * write them: RMC, GGA, GSA, GSV at 1 Hz, 5 decimal minutes, valid checksums.
 */
export function checksum(body: string): string {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x.toString(16).toUpperCase().padStart(2, '0');
}

export function sentence(body: string): string {
  return `$${body}*${checksum(body)}\r\n`;
}

/** ddmm.mmmmm / dddmm.mmmmm with hemisphere, and the value actually encoded (for exact comparisons). */
export function formatCoord(deg: number, isLat: boolean): { text: string; hemi: string; encoded: number } {
  const hemi = isLat ? (deg < 0 ? 'S' : 'N') : deg < 0 ? 'W' : 'E';
  const abs = Math.abs(deg);
  let d = Math.floor(abs);
  let minutes5 = Math.round((abs - d) * 60 * 100_000);
  if (minutes5 >= 60 * 100_000) {
    d += 1;
    minutes5 -= 60 * 100_000;
  }
  const mm = Math.floor(minutes5 / 100_000);
  const frac = minutes5 % 100_000;
  const text = `${String(d).padStart(isLat ? 2 : 3, '0')}${String(mm).padStart(2, '0')}.${String(frac).padStart(5, '0')}`;
  const encoded = (d + minutes5 / 100_000 / 60) * (deg < 0 ? -1 : 1);
  return { text, hemi, encoded };
}

function hhmmss(t: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}.${String(Math.floor(t.getUTCMilliseconds() / 10)).padStart(2, '0')}`;
}

function ddmmyy(t: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(t.getUTCDate())}${p(t.getUTCMonth() + 1)}${p(t.getUTCFullYear() % 100)}`;
}

export interface EpochInput {
  time: Date;
  lat: number;
  lon: number;
  altM: number;
  speedMps: number;
  courseDeg: number;
  fix: boolean;
}

/** One epoch's sentences; `lat`/`lon` are the values as encoded. */
export function epochSentences(e: EpochInput): { text: string; lat: number; lon: number } {
  const lat = formatCoord(e.lat, true);
  const lon = formatCoord(e.lon, false);
  const t = hhmmss(e.time);
  const knots = (e.speedMps * 1.943844).toFixed(3);
  const status = e.fix ? 'A' : 'V';
  const mode = e.fix ? 'A' : 'N';
  const rmc = e.fix
    ? `GNRMC,${t},${status},${lat.text},${lat.hemi},${lon.text},${lon.hemi},${knots},${e.courseDeg.toFixed(2)},${ddmmyy(e.time)},,,${mode},V`
    : `GNRMC,${t},V,,,,,,,${ddmmyy(e.time)},,,N,V`;
  const gga = e.fix
    ? `GNGGA,${t},${lat.text},${lat.hemi},${lon.text},${lon.hemi},1,09,0.92,${e.altM.toFixed(1)},M,39.6,M,,`
    : `GNGGA,${t},,,,,0,00,99.99,,,,,,`;
  const gsa = e.fix ? 'GNGSA,A,3,02,05,12,15,18,25,29,,,,,,1.61,0.92,1.32,1' : 'GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99,1';
  const gsv1 = 'GPGSV,2,1,07,02,45,120,38,05,62,045,41,12,30,300,35,15,25,210,33,1';
  const gsv2 = 'GPGSV,2,2,07,18,55,080,40,25,15,330,28,29,70,170,42,1';
  const text = [rmc, 'GNVTG,' + `${e.courseDeg.toFixed(2)},T,,M,${knots},N,${(e.speedMps * 3.6).toFixed(3)},K,${mode}`, gga, gsa, gsv1, gsv2].map(sentence).join('');
  return { text, lat: lat.encoded, lon: lon.encoded };
}
