import { EventEmitter } from 'node:events';
import { ReadlineParser } from '@serialport/parser-readline';
import type { Fix as WireFix } from '../../protocol/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { FixAssembler } from './fix-assembler.js';
import type { Fix } from './fix.js';
import { parseSentence } from './nmea-parser.js';
import { SerialLink, type LinkState } from './serial-link.js';

type GpsConfig = Config['gps'];
export type ReportReason = 'interval' | 'moved' | 'burst' | 'locate' | 'stale' | 'visit';

/** Receivers end an epoch with a pause before the next second's burst; flushing on that pause saves a second of latency. */
const EPOCH_IDLE_MS = 200;

/** The wire form of a fix (protocol Fix), with age when it is the last known one. */
export function toWireFix(f: Fix & { lat: number; lon: number; time: number }, now: number, stale = false): WireFix {
  const w: WireFix = { lat: f.lat, lon: f.lon, time: f.time, fixType: f.fixType };
  if (f.altitudeM !== undefined) w.altM = f.altitudeM;
  if (f.speedMps !== undefined) w.speedMps = f.speedMps;
  if (f.courseDeg !== undefined) w.courseDeg = f.courseDeg;
  if (f.accuracyM !== undefined) w.accuracyM = f.accuracyM;
  if (f.hdop !== undefined) w.hdop = f.hdop;
  if (f.satsUsed !== undefined) w.satsUsed = f.satsUsed;
  if (stale) {
    w.stale = true;
    w.ageMs = Math.max(0, now - f.time);
  }
  return w;
}

/**
 * GPS receiver → fixes → reports. Owns the serial link, the parser, the epoch
 * assembler and the reporting policy. Emits 'report' (WireFix, reason),
 * 'fix' (Fix), 'link' (LinkState, detail).
 */
export class GpsService extends EventEmitter {
  #config: GpsConfig;
  readonly #log: Logger;
  readonly #assembler = new FixAssembler();
  #link: SerialLink | undefined;
  #last: (Fix & { lat: number; lon: number; time: number }) | undefined;
  #idle: NodeJS.Timeout | undefined;
  #lastReportAt = 0;
  #lastReported: { lat: number; lon: number } | undefined;
  #burstUntil = 0;
  readonly counts = { sentences: 0, rejected: 0, fixes: 0 };

  constructor(config: GpsConfig, logger: Logger) {
    super();
    this.#config = config;
    this.#log = logger;
  }

  start(): void {
    const link = new SerialLink({
      path: this.#config.path,
      baudRate: this.#config.baudRate,
      splitter: () => new ReadlineParser({ delimiter: '\n' }),
      isValidLine: (l) => parseSentence(l.trim()).ok,
      logger: this.#log,
    });
    link.on('line', (line: string) => this.#onLine(line));
    link.on('state', (s: LinkState, detail?: string) => {
      this.#log.info({ state: s, detail }, 'gps link');
      this.emit('link', s, detail);
    });
    this.#link = link;
    link.start();
  }

  applyConfig(config: GpsConfig): void {
    this.#config = config;
  }

  #onLine(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    this.counts.sentences++;
    const r = parseSentence(line, { requireChecksum: this.#config.requireChecksum });
    if (!r.ok) {
      this.counts.rejected++;
      return;
    }
    const done = this.#assembler.push(r.sentence);
    if (done) this.#onFix(done);
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      const f = this.#assembler.flush();
      if (f) this.#onFix(f);
    }, EPOCH_IDLE_MS);
  }

  #onFix(f: Fix): void {
    this.counts.fixes++;
    this.emit('fix', f);
    const now = Date.now();
    if (f.valid && f.lat !== undefined && f.lon !== undefined && f.time !== undefined) {
      const fix = f as Fix & { lat: number; lon: number; time: number };
      this.#last = fix;
      const reason = this.#decide(fix, now);
      if (reason) this.#report(toWireFix(fix, now), reason, now);
    } else if (this.#last && now - this.#lastReportAt >= this.#config.intervalS * 1000) {
      this.#report(toWireFix(this.#last, now, true), 'stale', now);
    }
  }

  #decide(fix: { lat: number; lon: number }, now: number): ReportReason | undefined {
    if (now < this.#burstUntil && now - this.#lastReportAt >= 900) return 'burst';
    if (this.#lastReported === undefined) return 'interval';
    if (distanceM(this.#lastReported, fix) >= this.#config.displacementM) return 'moved';
    if (now - this.#lastReportAt >= this.#config.intervalS * 1000) return 'interval';
    return undefined;
  }

  #report(fix: WireFix, reason: ReportReason, now: number): void {
    this.#lastReportAt = now;
    if (!fix.stale) this.#lastReported = { lat: fix.lat, lon: fix.lon };
    this.emit('report', fix, reason);
  }

  /** The last valid fix with its age, or undefined if there never was one. */
  lastFix(): WireFix | undefined {
    return this.#last ? toWireFix(this.#last, Date.now(), true) : undefined;
  }

  /** 1 Hz reporting for the configured time after an SOS. */
  sosBurst(): void {
    this.#burstUntil = Date.now() + this.#config.sosBurstS * 1000;
  }

  async stop(): Promise<void> {
    if (this.#idle) clearTimeout(this.#idle);
    await this.#link?.stop();
  }
}

function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(h));
}
