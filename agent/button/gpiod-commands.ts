import type { GpioBias } from './gpio-line.js';

/**
 * Command lines and output formats of the libgpiod tools, pure so each version's
 * syntax is tested without a process. The two major versions differ in nearly
 * everything:
 *
 * v1 (Debian Bookworm, 1.6): `gpiomon [opts] <chip> <offset>...`; bias is
 *   `-B/--bias` (as-is|disable|pull-down|pull-up); `-b` means line-buffered and
 *   is required, because v1 leaves stdout block-buffered on a pipe and events
 *   would sit in its buffer. `--format` knows %o, %e (0 falling, 1 rising), %s,
 *   %n. Default line: `event:  RISING EDGE offset: 17 timestamp: [1700000000.123456789]`.
 *   Names are resolved with `gpiofind NAME` → `gpiochip0 17`.
 * v2 (2.x): `gpiomon [opts] <line>...` with `-c <chip>`; bias is `-b/--bias`
 *   (pull-up|pull-down|disabled); `-e both`; `--format` knows %e (1 rising,
 *   2 falling), %E, %S (sec.nsec), %o, %l, %c. Default line:
 *   `1700000000.123456789\trising\tgpiochip0 17` (or `"GPIO17"` for a named line).
 *   Names are accepted directly; gpioget prints `"GPIO17"=active` unless `--numeric`.
 * Both report edges after active-low inversion when `-l` is given.
 */
export type GpiodVersion = 1 | 2;

/** A resolved line: the chip and what the tools should be told about the line. */
export interface GpiodLineRef {
  chip: string;
  /** v1: always an offset; v2: the configured name or offset. */
  line: string | number;
}

/** Reads the major version from `gpiomon --version` output. */
export function parseGpiodVersion(text: string): GpiodVersion {
  const m = /\(libgpiod\)\s+v?(\d+)\./.exec(text);
  if (m === null) throw new Error(`cannot tell the libgpiod version from: ${JSON.stringify(text.split('\n')[0] ?? '')}`);
  const major = Number(m[1]);
  if (major === 1 || major === 2) return major;
  throw new Error(`unsupported libgpiod major version ${major} (supported: 1, 2)`);
}

/** Parses `gpiofind` output (`gpiochip0 17`). */
export function parseGpiofind(text: string): { chip: string; offset: number } | undefined {
  const m = /^(\S+)\s+(\d+)\s*$/.exec(text.trim());
  return m === null ? undefined : { chip: m[1] ?? '', offset: Number(m[2]) };
}

function biasArgs(version: GpiodVersion, bias: GpioBias): string[] {
  if (bias === 'as-is') return [];
  if (version === 1) return [`--bias=${bias}`];
  return ['--bias', bias === 'disable' ? 'disabled' : bias];
}

const v1Format = '%e %s %n';
const v2Format = '%e %S';

/** Arguments for a long-running gpiomon watching both edges. */
export function monitorArgs(version: GpiodVersion, ref: GpiodLineRef, activeLow: boolean, bias: GpioBias): string[] {
  const low = activeLow ? ['--active-low'] : [];
  if (version === 1) return ['--line-buffered', ...low, ...biasArgs(1, bias), `--format=${v1Format}`, ref.chip, String(ref.line)];
  return ['--chip', ref.chip, ...low, ...biasArgs(2, bias), '--edges', 'both', '--format', v2Format, String(ref.line)];
}

/** Arguments for a one-shot gpioget printing 0 or 1. */
export function getArgs(version: GpiodVersion, ref: GpiodLineRef, activeLow: boolean, bias: GpioBias): string[] {
  const low = activeLow ? ['--active-low'] : [];
  if (version === 1) return [...low, ...biasArgs(1, bias), ref.chip, String(ref.line)];
  return ['--numeric', '--chip', ref.chip, ...low, ...biasArgs(2, bias), String(ref.line)];
}

/** Arguments for a gpioset that holds the level until SIGTERM (the line reverts when the process exits); v1 prints nothing, v2 a banner once set. */
export function setArgs(version: GpiodVersion, ref: GpiodLineRef, activeLow: boolean, value: 0 | 1): string[] {
  const low = activeLow ? ['--active-low'] : [];
  if (version === 1) return ['--mode=signal', ...low, ref.chip, `${ref.line}=${value}`];
  // --banner prints once the line is held: the only sign of readiness v2 gives.
  return ['--banner', '--chip', ref.chip, ...low, `${ref.line}=${value}`];
}

/** One edge as printed by gpiomon: the logical level after it and the kernel timestamp. */
export interface ToolEdge {
  value: 0 | 1;
  /** Kernel timestamp in ms. */
  tsMs: number;
}

function toMs(sec: string, nsec: string): number {
  return Number(sec) * 1000 + Number(nsec.padEnd(9, '0').slice(0, 9)) / 1e6;
}

/** Parses one gpiomon output line, in our `--format` or the version's default layout; undefined if it is not an event. */
export function parseMonitorLine(version: GpiodVersion, text: string): ToolEdge | undefined {
  const line = text.trim();
  if (version === 1) {
    let m = /^([01]) (\d+) (\d+)$/.exec(line);
    if (m !== null) return { value: m[1] === '1' ? 1 : 0, tsMs: toMs(m[2] ?? '0', (m[3] ?? '0').padStart(9, '0')) };
    m = /^event:\s+(RISING|FALLING) EDGE offset: \d+ timestamp: \[\s*(\d+)\.(\d+)\]$/.exec(line);
    if (m !== null) return { value: m[1] === 'RISING' ? 1 : 0, tsMs: toMs(m[2] ?? '0', m[3] ?? '0') };
    return undefined;
  }
  let m = /^([12]) (\d+)\.(\d+)$/.exec(line);
  if (m !== null) return { value: m[1] === '1' ? 1 : 0, tsMs: toMs(m[2] ?? '0', m[3] ?? '0') };
  m = /^(\d+)\.(\d+)\s+(rising|falling)\s+/.exec(line);
  if (m !== null) return { value: m[3] === 'rising' ? 1 : 0, tsMs: toMs(m[1] ?? '0', m[2] ?? '0') };
  return undefined;
}

/** Parses gpioget output for one line: `0`/`1` (v1, v2 --numeric) or `"NAME"=active|inactive` (v2 default). */
export function parseGetOutput(text: string): 0 | 1 | undefined {
  const t = text.trim();
  if (t === '0' || t === '1') return t === '1' ? 1 : 0;
  const m = /=(active|inactive)$/.exec(t);
  if (m !== null) return m[1] === 'active' ? 1 : 0;
  return undefined;
}

/** True if a tool's stderr says the line is held by another requester (EBUSY). */
export function isBusyError(stderr: string): boolean {
  return /resource busy|EBUSY/i.test(stderr);
}
