// Question: how many NMEA sentences per second does our parser decode, next to
// nmea-simple, on the mix a multi-GNSS receiver sends once per second?
//
// Corpus: a few thousand distinct sentences (RMC, VTG, GGA, GSA ×2, GSV ×5 per
// epoch; GN talker for the solution, GP/GL for satellites, every fifth epoch
// GP-only, some epochs acquiring with empty fields), generated from a fixed
// seed so every run parses the same text.
//
// Fairness: both parsers get the same strings, verify the checksum and decode
// every field into a typed object (ours: parseSentence; nmea-simple:
// parseNmeaSentence, which throws on rejects, so it is wrapped in try/catch
// although the corpus contains none). Rounds alternate between the two so
// neither enjoys a warmer CPU; each side is warmed up first and the best round
// counts (the least disturbed by GC and the other engineers' processes).
import { parseNmeaSentence } from 'nmea-simple';
import { parseSentence } from '../agent/gps/nmea-parser.js';
import { report, round } from './_report.js';

const EPOCHS = 500;
const WARMUP_ROUNDS = 10;
const ROUNDS = 40;

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function withChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

const pad = (n: number, width: number, decimals = 0): string => n.toFixed(decimals).padStart(width + (decimals > 0 ? decimals + 1 : 0), '0');

function coordinate(deg: number, degWidth: number): string {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  return `${pad(d, degWidth)}${pad((a - d) * 60, 2, 5)}`;
}

function corpus(): string[] {
  const rand = mulberry32(20240611);
  const out: string[] = [];
  let lat = 52.5 + rand() * 0.1;
  let lon = 13.3 + rand() * 0.1;
  for (let e = 0; e < EPOCHS; e++) {
    const t = 36000 + e;
    const time = `${pad(Math.floor(t / 3600), 2)}${pad(Math.floor(t / 60) % 60, 2)}${pad(t % 60, 2)}.00`;
    const solution = e % 5 === 0 ? 'GP' : 'GN';
    const acquiring = e % 97 < 3;
    lat += (rand() - 0.5) * 1e-4;
    lon += (rand() - 0.5) * 1e-4;
    const knots = (rand() * 4).toFixed(3);
    const course = (rand() * 360).toFixed(2);
    const la = `${coordinate(lat, 2)},N`;
    const lo = `${coordinate(lon, 3)},E`;
    const hdop = (0.6 + rand() * 2).toFixed(2);
    if (acquiring) {
      out.push(withChecksum(`${solution}RMC,${time},V,,,,,,,110624,,,N,V`));
      out.push(withChecksum(`${solution}VTG,,,,,,,,,N`));
      out.push(withChecksum(`${solution}GGA,${time},,,,,0,00,99.99,,,,,,`));
      out.push(withChecksum(`${solution}GSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99,1`));
    } else {
      out.push(withChecksum(`${solution}RMC,${time},A,${la},${lo},${knots},${course},110624,,,A,V`));
      out.push(withChecksum(`${solution}VTG,${course},T,,M,${knots},N,${(Number(knots) * 1.852).toFixed(3)},K,A`));
      out.push(withChecksum(`${solution}GGA,${time},${la},${lo},1,${pad(4 + Math.floor(rand() * 8), 2)},${hdop},${(30 + rand() * 20).toFixed(1)},M,44.9,M,,`));
      const prns = Array.from({ length: 12 }, (_, i) => (i < 7 ? pad(1 + Math.floor(rand() * 32), 2) : ''));
      out.push(withChecksum(`${solution}GSA,A,3,${prns.join(',')},1.52,${hdop},1.10,1`));
      if (solution === 'GN') out.push(withChecksum(`GNGSA,A,3,65,72,81,,,,,,,,,,1.52,${hdop},1.10,2`));
    }
    for (const [talker, messages, inView] of [['GP', 3, 10], ['GL', 2, 7]] as const) {
      for (let m = 1; m <= messages; m++) {
        const groups: string[] = [];
        for (let s = 0; s < 4 && (m - 1) * 4 + s < inView; s++) {
          const snr = rand() < 0.2 ? '' : pad(20 + Math.floor(rand() * 30), 2);
          groups.push(`${pad(1 + Math.floor(rand() * 32) + (talker === 'GL' ? 64 : 0), 2)},${pad(Math.floor(rand() * 90), 2)},${pad(Math.floor(rand() * 360), 3)},${snr}`);
        }
        out.push(withChecksum(`${talker}GSV,${messages},${m},${pad(inView, 2)},${groups.join(',')}`));
      }
    }
  }
  return out;
}

function timeRound(lines: readonly string[], parse: (line: string) => number): { ms: number; sink: number } {
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < lines.length; i++) sink += parse(lines[i]);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, sink };
}

const ours = (line: string): number => {
  const r = parseSentence(line);
  return r.ok ? r.sentence.set & 1 : 0;
};
const baseline = (line: string): number => {
  try {
    return parseNmeaSentence(line).sentenceId.length;
  } catch {
    return 0;
  }
};

const lines = corpus();
let okOurs = 0;
for (const l of lines) if (parseSentence(l).ok) okOurs++;
if (okOurs !== lines.length) throw new Error(`corpus check: ours accepted ${okOurs} of ${lines.length}`);
for (const l of lines) parseNmeaSentence(l); // throws if the baseline rejects the corpus

for (let i = 0; i < WARMUP_ROUNDS; i++) {
  timeRound(lines, ours);
  timeRound(lines, baseline);
}
let bestOurs = Infinity;
let bestBaseline = Infinity;
let sink = 0;
for (let i = 0; i < ROUNDS; i++) {
  const a = timeRound(lines, ours);
  const b = timeRound(lines, baseline);
  bestOurs = Math.min(bestOurs, a.ms);
  bestBaseline = Math.min(bestBaseline, b.ms);
  sink += a.sink + b.sink;
}
const oursPerS = (lines.length / bestOurs) * 1000;
const baselinePerS = (lines.length / bestBaseline) * 1000;
report({
  bench: 'nmea-parse',
  sentences: lines.length,
  ours_per_s: Math.round(oursPerS),
  baseline_per_s: Math.round(baselinePerS),
  ratio: round(oursPerS / baselinePerS),
  sink: sink > 0 ? 1 : 0,
});
