import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { endProcesses, findToolProcesses, isRunning, runsCommand } from './leftover-tools.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('runsCommand', () => {
  it('matches the tool run directly or through an interpreter, with exactly the same arguments', () => {
    expect(runsCommand(['/usr/bin/gpiomon', '-b', 'gpiochip0', '17'], '/usr/bin/gpiomon', ['-b', 'gpiochip0', '17'])).toBe(true);
    expect(runsCommand(['node', '/t/bin/gpiomon', '-b', 'gpiochip0', '17'], '/t/bin/gpiomon', ['-b', 'gpiochip0', '17'])).toBe(true);
    expect(runsCommand(['gpiomon', '-b', 'gpiochip0', '17'], 'gpiomon', ['-b', 'gpiochip0', '17'])).toBe(true);
    expect(runsCommand(['/usr/bin/gpiomon', '-b', 'gpiochip0', '17'], 'gpiomon', ['-b', 'gpiochip0', '17'])).toBe(true);
  });

  it('does not match another line, other options, another directory or a different tool', () => {
    expect(runsCommand(['gpiomon', '-b', 'gpiochip0', '18'], 'gpiomon', ['-b', 'gpiochip0', '17'])).toBe(false);
    expect(runsCommand(['gpiomon', '-b', 'gpiochip0', '17', '27'], 'gpiomon', ['-b', 'gpiochip0', '17'])).toBe(false);
    expect(runsCommand(['/other/gpiomon', '-b', 'gpiochip0', '17'], '/t/bin/gpiomon', ['-b', 'gpiochip0', '17'])).toBe(false);
    expect(runsCommand(['gpioset', '-b', 'gpiochip0', '17'], 'gpiomon', ['-b', 'gpiochip0', '17'])).toBe(false);
    expect(runsCommand([], 'gpiomon', [])).toBe(false);
  });
});

describe('findToolProcesses / endProcesses', () => {
  it('finds a running script by its path and arguments, and ends it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nrec-leftover-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tool = join(dir, 'gpiomon');
    // Ignores SIGTERM, so ending it needs the SIGKILL fallback.
    await writeFile(tool, "#!/usr/bin/env node\nprocess.on('SIGTERM', () => {});\nsetInterval(() => {}, 1000);\nprocess.stdout.write('up\\n');\n");
    await chmod(tool, 0o755);
    const child = spawn(tool, ['--chip', 'gpiochip0', 'GPIO17'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(async () => child.kill('SIGKILL'));
    await once(child.stdout!, 'data');
    const other = spawn(tool, ['--chip', 'gpiochip0', 'GPIO18'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(async () => other.kill('SIGKILL'));
    await once(other.stdout!, 'data');

    expect(await findToolProcesses(tool, [['--chip', 'gpiochip0', 'GPIO17']])).toEqual([child.pid]);
    const exited = once(child, 'exit');
    await endProcesses([child.pid!], 200);
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGKILL');
    expect(await findToolProcesses(tool, [['--chip', 'gpiochip0', 'GPIO17']])).toEqual([]);
    expect(await findToolProcesses(tool, [['--chip', 'gpiochip0', 'GPIO18']])).toEqual([other.pid]);
  });
});

describe('isRunning', () => {
  it('counts a zombie (exited, not yet reaped by a slow init) and a missing pid as gone', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'nrec-proc-'));
    cleanups.push(() => rm(proc, { recursive: true, force: true }));
    const stat = async (pid: number, text: string) => {
      await mkdir(join(proc, String(pid)));
      await writeFile(join(proc, String(pid), 'stat'), text);
    };
    await stat(10, '10 (gpiomon) S 1 10 10 0 -1 4194560 100 0 0 0\n');
    await stat(11, '11 (gpio mon) x) Z 1 11 11 0 -1 4228108 95 0 0 0\n');
    expect(isRunning(10, proc)).toBe(true);
    expect(isRunning(11, proc)).toBe(false);
    expect(isRunning(12, proc)).toBe(false);
    expect(isRunning(process.pid)).toBe(true);
  });
});
