// What checking a chunk for completeness costs in file system calls: the
// spool used to list the chunk's directory on every part (O(n²) per chunk).
// node:fs is wrapped (not replaced) to count the calls the spool makes.
import { afterEach, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ readdirSync: 0, existsSync: 0, statSync: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const counted = <K extends keyof typeof calls>(name: K) => ((...args: unknown[]) => {
    calls[name]++;
    return (fs[name] as (...a: unknown[]) => unknown)(...args);
  }) as unknown as (typeof fs)[K];
  return { ...fs, default: fs, readdirSync: counted('readdirSync'), existsSync: counted('existsSync'), statSync: counted('statSync') };
});

const { Cleanup } = await import('../../test/support/cleanup.js');
const { makeTempDir } = await import('../../test/support/temp.js');
const { PartSpool } = await import('./part-spool.js');

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('PartSpool completeness cost', () => {
  it('checks a chunk of n parts arriving in any order, at two workers, with O(n) calls and no listing per part', async () => {
    const root = cleanup.add(await makeTempDir('nrec-spool-cost-'), (d) => d.remove()).path;
    const n = 400;
    const workers = [0, 1].map((i) => new PartSpool({ root, self: { host: 'h', pid: 100 + i, nonce: `n${i}` } }));
    const ref = { deviceId: 'dev-1', sessionId: 's-1', index: 0 };
    await workers[0].putHeader(ref, JSON.stringify({ partCount: n, partSize: 4, link: 'l', meta: { bytes: 4 * n, sha256: 's' } }));
    // Mostly in order, a few late ones, split over both workers.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (a % 37 === 0 ? a + 50 : a) - (b % 37 === 0 ? b + 50 : b));
    for (const k of Object.keys(calls) as Array<keyof typeof calls>) calls[k] = 0;
    let complete = 0;
    for (const [j, i] of order.entries()) {
      const w = workers[j % 2];
      await w.putPart(ref, i, Buffer.from('abcd'));
      if (await w.isComplete(ref)) complete++;
    }
    expect(complete).toBeGreaterThanOrEqual(1); // the last writer sees it; both may
    expect(calls.readdirSync).toBeLessThanOrEqual(4); // a confirming listing once complete, per worker
    expect(calls.existsSync + calls.statSync).toBeLessThanOrEqual(6 * n);
  });
});
