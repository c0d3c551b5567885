import { EventEmitter } from 'node:events';
import type { Fix as WireFix } from '../../protocol/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../../lib/logger.js';
import type { MessageClock } from '../transport/envelope.js';
import { isClockSynchronized } from './clock-sync.js';
import { FixAssembler } from './fix-assembler.js';
import type { Fix } from './fix.js';
import { Geofences, type Fence, type GeofenceEvent } from './geofence.js';
import { decideTimestamp } from './gps-time.js';
import { LineSplitter } from './line-splitter.js';
import { parseSentence } from './nmea-parser.js';
import type { ParseResult } from './nmea-types.js';
import { ReportPolicy, type LocationReport, type ReportReason } from './report-policy.js';
import { SerialLink, type LinkState } from './serial-link.js';

type GpsConfig = Config['gps'];
type ValidFix = Fix & { lat: number; lon: number; time: number };

/** Receivers end an epoch with a pause before the next second's burst; flushing on that pause saves a second of latency. */
const EPOCH_IDLE_MS = 200;

/** The wire form of a fix (protocol Fix), with its age when it is the last known one. */
export function toWireFix(f: ValidFix, stale = false, ageMs = 0): WireFix {
  const w: WireFix = { lat: f.lat, lon: f.lon, time: f.time, fixType: f.fixType };
  if (f.altitudeM !== undefined) w.altM = f.altitudeM;
  if (f.speedMps !== undefined) w.speedMps = f.speedMps;
  if (f.courseDeg !== undefined) w.courseDeg = Math.min(360, Math.max(0, f.courseDeg));
  if (f.accuracyM !== undefined) w.accuracyM = f.accuracyM;
  if (f.hdop !== undefined) w.hdop = f.hdop;
  if (f.satsUsed !== undefined) w.satsUsed = f.satsUsed;
  if (stale) {
    w.stale = true;
    w.ageMs = Math.max(0, Math.round(ageMs));
  }
  return w;
}

function isValid(f: Fix): f is ValidFix {
  return f.valid && f.lat !== undefined && f.lon !== undefined && f.time !== undefined;
}

function policyOptions(c: GpsConfig) {
  return {
    intervalMs: c.intervalS * 1000,
    displacementM: c.displacementM,
    minIntervalMs: c.minIntervalS * 1000,
    stationaryIntervalMs: c.stationaryIntervalS * 1000,
    visitIntervalMs: c.visitIntervalS * 1000,
    burstDurationMs: c.sosBurstS * 1000,
  };
}

/**
 * GPS receiver → fixes → reports. Owns the serial link, the bounded line
 * splitter, the parser, the epoch assembler, the reporting policy, the
 * geofences and GPS time. Emits 'report' (WireFix, ReportReason), 'fix'
 * (Fix), 'link' (LinkState, detail), 'geofence' (GeofenceEvent), 'skew' (ms).
 */
export class GpsService extends EventEmitter {
  #config: GpsConfig;
  readonly #log: Logger;
  readonly #assembler = new FixAssembler();
  readonly #policy: ReportPolicy;
  readonly geofences = new Geofences();
  #link: SerialLink | undefined;
  #last: ValidFix | undefined;
  #lastAt = 0;
  #idle: NodeJS.Timeout | undefined;
  #tick: NodeJS.Timeout | undefined;
  #clockSynced = true;
  #clockPoll: NodeJS.Timeout | undefined;
  #skewMs: number | undefined;
  readonly #clockSyncFile: string;
  #parsed: { line: string; result: ParseResult } | undefined;
  readonly counts = { lines: 0, rejected: 0, fixes: 0, discarded: 0 };

  constructor(config: GpsConfig, logger: Logger, clockSyncFile: string) {
    super();
    this.#config = config;
    this.#log = logger;
    this.#clockSyncFile = clockSyncFile;
    this.#policy = new ReportPolicy({ now: () => Date.now() }, policyOptions(config));
  }

  start(): void {
    const link = new SerialLink({
      path: this.#config.path,
      baudRate: this.#config.baudRate,
      splitter: () => new LineSplitter(),
      // Same rule as #onLine: with requireChecksum off, a receiver without checksums must still count as talking.
      isValidLine: (l) => this.#parse(l).ok,
      logger: this.#log,
    });
    link.on('line', (line: string) => this.#onLine(line));
    link.on('state', (s: LinkState, detail?: string) => {
      this.#log.info({ state: s, detail }, 'gps link');
      this.emit('link', s, detail);
    });
    this.#link = link;
    link.start();
    const pollClock = async () => {
      this.#clockSynced = await isClockSynchronized(this.#clockSyncFile);
    };
    void pollClock();
    this.#clockPoll = setInterval(() => void pollClock(), 10_000);
    this.#clockPoll.unref();
    this.#arm();
  }

  get linkState(): LinkState | undefined {
    return this.#link?.state;
  }

  applyConfig(config: GpsConfig): void {
    this.#config = config;
    this.#parsed = undefined;
    this.#policy.reconfigure(policyOptions(config));
    this.#arm();
  }

  /**
   * The clock for message timestamps: the system clock once synchronized;
   * before that (a Pi has no RTC) the time of the latest valid fix, advanced
   * by the monotonic time since it arrived, and marked as GPS time.
   */
  readonly messageClock: MessageClock = {
    now: () => {
      const now = Date.now();
      if (this.#clockSynced || this.#last === undefined) return { ts: now, clock: this.#clockSynced ? 'system' : 'unsynced' };
      const d = decideTimestamp({ fixTimeMs: this.#last.time + (now - this.#lastAt), fixValid: true, systemMs: now, systemSynchronized: false });
      return { ts: d.ts, clock: d.source === 'gps' ? 'gps' : 'unsynced' };
    },
  };

  /** System clock minus GPS time at the last fix (positive: system ahead). */
  get skewMs(): number | undefined {
    return this.#skewMs;
  }

  /**
   * The link validates each line (for its no-data watchdog) just before handing it over; the
   * result is kept for that one line so it is parsed once, not twice.
   */
  #parse(line: string): ParseResult {
    if (this.#parsed?.line === line) return this.#parsed.result;
    const result = parseSentence(line, { requireChecksum: this.#config.requireChecksum });
    this.#parsed = { line, result };
    return result;
  }

  #onLine(line: string): void {
    this.counts.lines++;
    const r = this.#parse(line);
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
    if (isValid(f)) {
      this.#last = f;
      this.#lastAt = Date.now();
      this.#skewMs = decideTimestamp({ fixTimeMs: f.time, fixValid: true, systemMs: this.#lastAt, systemSynchronized: this.#clockSynced }).skewMs;
      for (const e of this.geofences.update(f)) this.emit('geofence', e);
    }
    this.#emitReport(this.#policy.offer(f));
  }

  #emitReport(r: LocationReport | undefined): void {
    if (r !== undefined && isValid(r.fix)) this.emit('report', toWireFix(r.fix, r.stale, r.ageMs), r.reason);
    this.#arm();
  }

  /** Re-arms the time-driven check (stale reports, intervals without new fixes). */
  #arm(): void {
    if (this.#tick) clearTimeout(this.#tick);
    if (this.#link === undefined) return;
    this.#tick = setTimeout(() => this.#emitReport(this.#policy.tick()), Math.max(50, this.#policy.nextDueInMs()));
    this.#tick.unref();
  }

  /** The last valid fix with its age, or undefined if there never was one. */
  lastFix(): WireFix | undefined {
    return this.#last ? toWireFix(this.#last, true, Date.now() - this.#lastAt) : undefined;
  }

  /** 1 Hz reporting for the configured time after an SOS. */
  sosBurst(): void {
    this.#policy.sosBurst();
    this.#emitReport(this.#policy.tick());
  }

  /** Publishes a report now (the `locate` command). */
  locateNow(): boolean {
    if (this.#last === undefined) return false;
    this.#policy.locateNow();
    this.#emitReport(this.#policy.tick());
    return true;
  }

  setVisit(active: boolean): void {
    this.#policy.setVisit(active);
    this.#arm();
  }

  setGeofence(fence: Fence): void {
    this.geofences.set(fence);
  }

  clearGeofence(id?: string): void {
    this.geofences.clear(id);
  }

  async stop(): Promise<void> {
    if (this.#idle) clearTimeout(this.#idle);
    if (this.#tick) clearTimeout(this.#tick);
    if (this.#clockPoll) clearInterval(this.#clockPoll);
    const link = this.#link;
    this.#link = undefined;
    await link?.stop();
  }
}

export type { ReportReason, GeofenceEvent };
