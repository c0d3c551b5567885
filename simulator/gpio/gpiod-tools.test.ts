import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGetOutput, parseGpiodVersion, parseGpiofind, parseMonitorLine } from '../../agent/button/gpiod-commands.js';
import { createGpiodToolsStandIn, type GpiodLineController } from './gpiod-tools.js';

const run = promisify(execFile);
const controllers: GpiodLineController[] = [];
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.close();
});

async function standIn(version: 1 | 2, extra: { exclusive?: boolean } = {}): Promise<GpiodLineController> {
  const c = await createGpiodToolsStandIn({ version, ...extra });
  controllers.push(c);
  return c;
}

/** Starts gpiomon with `args` and returns a reader of its stdout lines. */
function monitor(c: GpiodLineController, args: string[]) {
  const child = spawn(join(c.toolsDir, 'gpiomon'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const nextLine = async (n: number): Promise<string> => {
    while (lines.length < n) await new Promise<void>((r) => waiters.push(r));
    return lines[n - 1] ?? '';
  };
  return { child, lines, nextLine };
}

describe('libgpiod tool stand-ins', () => {
  it('print versions the backend can tell apart', async () => {
    const v1 = await standIn(1);
    const v2 = await standIn(2);
    const a = await run(join(v1.toolsDir, 'gpiomon'), ['--version']);
    const b = await run(join(v2.toolsDir, 'gpiomon'), ['-v']);
    expect(a.stdout).toMatch(/^gpiomon \(libgpiod\) v1\.6\.3\n/);
    expect(parseGpiodVersion(a.stdout)).toBe(1);
    expect(parseGpiodVersion(b.stdout)).toBe(2);
  });

  it('v1: gpiofind, gpioget and the default gpiomon line format', async () => {
    const c = await standIn(1);
    expect(parseGpiofind((await run(join(c.toolsDir, 'gpiofind'), ['GPIO17'])).stdout)).toEqual({ chip: 'gpiochip0', offset: 17 });
    await expect(run(join(c.toolsDir, 'gpiofind'), ['NOPE'])).rejects.toMatchObject({ code: 1 });
    expect((await run(join(c.toolsDir, 'gpioget'), ['--active-low', '--bias=pull-up', 'gpiochip0', '17'])).stdout).toBe('0\n');
    expect((await run(join(c.toolsDir, 'gpioget'), ['gpiochip0', '17'])).stdout).toBe('1\n');
    // v1 has -B for bias; -b is --line-buffered and takes no argument.
    await expect(run(join(c.toolsDir, 'gpioget'), ['-b', 'pull-up', 'gpiochip0', '17'])).rejects.toMatchObject({ code: 1 });

    const m = monitor(c, ['-b', '-l', 'gpiochip0', '17']);
    await c.waitForMonitor();
    c.press();
    const line = await m.nextLine(1);
    expect(line).toMatch(/^event:  RISING EDGE offset: 17 timestamp: \[\s*\d+\.\d{9}\]$/);
    const edge = parseMonitorLine(1, line);
    expect(edge?.value).toBe(1);
    expect(Math.abs((edge?.tsMs ?? 0) - Number(process.hrtime.bigint()) / 1e6)).toBeLessThan(5000);
    m.child.kill('SIGTERM');
    await once(m.child, 'exit');
  });

  it('v1: gpiomon without --line-buffered holds its output back, like the real tool on a pipe', async () => {
    const c = await standIn(1);
    const m = monitor(c, ['--format=%e %o', 'gpiochip0', '17']);
    await c.waitForMonitor();
    c.press();
    c.release();
    const exit = once(m.child, 'exit');
    m.child.kill('SIGTERM');
    await exit;
    // Nothing came out until exit flushed the buffer, then both events at once.
    expect(m.lines).toEqual(['0 17', '1 17']);
  });

  it('v2: names, --numeric, default gpiomon line format and EBUSY while monitored', async () => {
    const c = await standIn(2);
    expect(parseGetOutput((await run(join(c.toolsDir, 'gpioget'), ['--chip', 'gpiochip0', 'GPIO17'])).stdout)).toBe(1);
    expect((await run(join(c.toolsDir, 'gpioget'), ['GPIO17'])).stdout).toBe('"GPIO17"=active\n');
    expect((await run(join(c.toolsDir, 'gpioget'), ['--numeric', '-c', 'gpiochip0', '-l', '17'])).stdout).toBe('0\n');
    await expect(run(join(c.toolsDir, 'gpioget'), ['--bias', 'disable', 'GPIO17'])).rejects.toMatchObject({ stderr: expect.stringMatching(/invalid bias/) });

    const m = monitor(c, ['-c', 'gpiochip0', '-l', '-b', 'pull-up', 'GPIO17']);
    await c.waitForMonitor();
    c.press();
    const line = await m.nextLine(1);
    expect(line).toMatch(/^\d+\.\d{9}\trising\tgpiochip0 17 "GPIO17"$/);
    expect(parseMonitorLine(2, line)?.value).toBe(1);
    await expect(run(join(c.toolsDir, 'gpioget'), ['-c', 'gpiochip0', 'GPIO17'])).rejects.toMatchObject({ stderr: expect.stringMatching(/Device or resource busy/) });
    m.child.kill('SIGTERM');
    await once(m.child, 'exit');
  });

  it('gpioset holds a level until SIGTERM and records it for the test', async () => {
    for (const version of [1, 2] as const) {
      const c = await standIn(version);
      const args = version === 1 ? ['--mode=signal', 'gpiochip0', '27=1'] : ['-c', 'gpiochip0', 'GPIO27=active'];
      const set = spawn(join(c.toolsDir, 'gpioset'), args, { stdio: 'ignore' });
      const [change] = (await once(c, 'output')) as [{ offset: number; physical: number }];
      expect(change).toMatchObject({ offset: 27, physical: 1 });
      expect(c.outputLevel(27)).toBe(1);
      expect(set.exitCode).toBeNull();
      set.kill('SIGTERM');
      const [code] = await once(set, 'exit');
      expect(code).toBe(0);
    }
  });
});
