import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CAPTURE_PIDS_FILE, noteCaptureProcesses, processStartTicks, reapStaleCapture } from './stale-capture.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'nrec-stale-'));
  dirs.push(d);
  return d;
}

describe('stale capture processes', () => {
  it('kills a noted process that still runs, and forgets the note', async () => {
    const dir = await tmp();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    noteCaptureProcesses(dir, [child.pid]);
    expect(await reapStaleCapture(dir)).toEqual([child.pid]);
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    await expect(readFile(join(dir, CAPTURE_PIDS_FILE))).rejects.toThrow(/ENOENT/);
  });

  it('leaves alone a pid whose start time differs (the pid was reused) and copes with no note at all', async () => {
    const dir = await tmp();
    expect(await reapStaleCapture(dir)).toEqual([]);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const start = processStartTicks(child.pid!);
      expect(start).toMatch(/^\d+$/);
      await writeFile(join(dir, CAPTURE_PIDS_FILE), `${child.pid} ${Number(start) + 1}\n999999999 1\ngarbage\n`);
      expect(await reapStaleCapture(dir)).toEqual([]);
      expect(processStartTicks(child.pid!)).toBe(start);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
