import type { Config } from '../config/index.js';

/** pass ✓, warn ! (works, but look at it), fail ✗ (the recorder cannot do its job), skip - (not applicable). */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable name for --json consumers, e.g. gps.nmea. */
  name: string;
  area: string;
  status: CheckStatus;
  summary: string;
  /** The exact thing to do about a warn or fail. */
  fix?: string;
  details?: Record<string, unknown>;
}

export interface DoctorContext {
  configPath: string;
  /** Undefined when the config did not load; config-dependent checks are then skipped. */
  config: Config | undefined;
  /** How long to listen for NMEA (5 s by default). */
  nmeaWaitMs: number;
  /** Broker connection timeout. */
  brokerTimeoutMs: number;
}

export type Check = (ctx: DoctorContext) => Promise<CheckResult | CheckResult[]>;

export const pass = (name: string, area: string, summary: string, details?: Record<string, unknown>): CheckResult => ({ name, area, status: 'pass', summary, ...(details ? { details } : {}) });
export const warn = (name: string, area: string, summary: string, fix: string, details?: Record<string, unknown>): CheckResult => ({ name, area, status: 'warn', summary, fix, ...(details ? { details } : {}) });
export const fail = (name: string, area: string, summary: string, fix: string, details?: Record<string, unknown>): CheckResult => ({ name, area, status: 'fail', summary, fix, ...(details ? { details } : {}) });
export const skip = (name: string, area: string, summary: string): CheckResult => ({ name, area, status: 'skip', summary });

/** Runs a check; an exception becomes a fail naming it rather than ending the doctor. */
export async function runCheck(name: string, area: string, check: Check, ctx: DoctorContext): Promise<CheckResult[]> {
  try {
    const r = await check(ctx);
    return Array.isArray(r) ? r : [r];
  } catch (err) {
    return [fail(name, area, `check failed: ${(err as Error).message}`, 'report this output to the nrec maintainers')];
  }
}
