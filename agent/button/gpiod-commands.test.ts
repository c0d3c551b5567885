import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getArgs, isBusyError, monitorArgs, parseGetOutput, parseGpiodVersion, parseGpiofind, parseMonitorLine, setArgs } from './gpiod-commands.js';

describe('libgpiod command lines', () => {
  it('tells v1 from v2 by the --version banner', () => {
    expect(parseGpiodVersion('gpiomon (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n')).toBe(1);
    expect(parseGpiodVersion('gpiomon (libgpiod) v2.1\n')).toBe(2);
    expect(parseGpiodVersion('gpiomon (libgpiod) v2.2.1\n')).toBe(2);
    expect(() => parseGpiodVersion('gpiomon (libgpiod) v3.0\n')).toThrow(/unsupported.*3/);
    expect(() => parseGpiodVersion('bash: gpiomon: command not found')).toThrow(/cannot tell/);
  });

  it('builds v1 arguments: chip and offset positional, -B style bias, line-buffered output', () => {
    expect(monitorArgs(1, { chip: 'gpiochip0', line: 17 }, true, 'pull-up')).toEqual(['--line-buffered', '--active-low', '--bias=pull-up', '--format=%e %s %n', 'gpiochip0', '17']);
    expect(getArgs(1, { chip: 'gpiochip0', line: 17 }, false, 'as-is')).toEqual(['gpiochip0', '17']);
    expect(setArgs(1, { chip: 'gpiochip0', line: 27 }, false, 1)).toEqual(['--mode=signal', 'gpiochip0', '27=1']);
  });

  it('builds v2 arguments: --chip, named lines, "disabled" bias, both edges', () => {
    expect(monitorArgs(2, { chip: 'gpiochip0', line: 'GPIO17' }, true, 'disable')).toEqual(['--chip', 'gpiochip0', '--active-low', '--bias', 'disabled', '--edges', 'both', '--format', '%e %S', 'GPIO17']);
    expect(getArgs(2, { chip: 'gpiochip0', line: 17 }, true, 'pull-up')).toEqual(['--numeric', '--chip', 'gpiochip0', '--active-low', '--bias', 'pull-up', '17']);
    expect(setArgs(2, { chip: 'gpiochip0', line: 'GPIO27' }, true, 0)).toEqual(['--banner', '--chip', 'gpiochip0', '--active-low', 'GPIO27=0']);
  });

  it('parses both versions\' default and formatted event lines', () => {
    expect(parseMonitorLine(1, 'event:  RISING EDGE offset: 17 timestamp: [1700000000.123456789]')).toEqual({ value: 1, tsMs: 1700000000123.4568 });
    expect(parseMonitorLine(1, 'event: FALLING EDGE offset: 17 timestamp: [     123.000000005]')?.value).toBe(0);
    // v1 %n is printed without zero padding: 5 ns, not 0.5 s.
    expect(parseMonitorLine(1, '1 123 5')).toEqual({ value: 1, tsMs: 123000.000005 });
    expect(parseMonitorLine(2, '1700000000.123456789\trising\tgpiochip0 17')?.value).toBe(1);
    expect(parseMonitorLine(2, '1700000000.123456789\tfalling\t"GPIO17"')?.value).toBe(0);
    expect(parseMonitorLine(2, '2 123.500000000')).toEqual({ value: 0, tsMs: 123500 });
    expect(parseMonitorLine(2, "Monitoring line 'GPIO17'...")).toBeUndefined();
    expect(parseMonitorLine(1, '2 123 5')).toBeUndefined();
  });

  it('round-trips any timestamp through both formats', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 }), (rising, sec, nsec) => {
        const ms = sec * 1000 + nsec / 1e6;
        const v1 = parseMonitorLine(1, `${rising ? 1 : 0} ${sec} ${nsec}`);
        const v2 = parseMonitorLine(2, `${rising ? 1 : 2} ${sec}.${String(nsec).padStart(9, '0')}`);
        expect(v1?.value).toBe(rising ? 1 : 0);
        expect(v2?.value).toBe(rising ? 1 : 0);
        expect(v1?.tsMs).toBeCloseTo(ms, 3);
        expect(v2?.tsMs).toBeCloseTo(ms, 3);
      }),
    );
  });

  it('never mistakes arbitrary text for an event and never throws', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom(1 as const, 2 as const), (text, version) => {
        const e = parseMonitorLine(version, text);
        if (e !== undefined) expect(Number.isFinite(e.tsMs)).toBe(true);
      }),
    );
  });

  it('parses gpioget, gpiofind and busy errors', () => {
    expect(parseGetOutput('1\n')).toBe(1);
    expect(parseGetOutput('"GPIO17"=inactive\n')).toBe(0);
    expect(parseGetOutput('')).toBeUndefined();
    expect(parseGpiofind('gpiochip0 17\n')).toEqual({ chip: 'gpiochip0', offset: 17 });
    expect(parseGpiofind('')).toBeUndefined();
    expect(isBusyError('gpioget: error reading GPIO values: Device or resource busy\n')).toBe(true);
    expect(isBusyError('gpioget: cannot find line GPIO99')).toBe(false);
  });
});
