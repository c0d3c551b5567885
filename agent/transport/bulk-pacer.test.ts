import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PacedStream } from './bulk-pacer.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A real TCP connection on loopback: what the receiving end got, and the sending socket. */
async function pair(): Promise<{ client: Socket; received: Buffer[]; ended: Promise<void> }> {
  const received: Buffer[] = [];
  let ended!: () => void;
  const endedP = new Promise<void>((r) => (ended = r));
  server = createServer((s) => {
    s.on('data', (d) => received.push(d));
    s.on('end', () => ended());
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  return { client, received, ended: endedP };
}

describe('PacedStream', () => {
  it('delivers every byte in order, in writes of any size, and reports flushed offsets up to the total', async () => {
    const { client, received, ended } = await pair();
    const paced = new PacedStream(client, 4 * 1024 * 1024);
    const flushed: number[] = [];
    paced.onFlushed = (offset) => flushed.push(offset);
    // Small headers followed by large payloads, as mqtt.js writes a PUBLISH.
    const writes = Array.from({ length: 40 }, (_, i) => randomBytes(i % 2 === 0 ? 5 + i : 20_000 + i * 997));
    for (const w of writes) paced.write(w);
    paced.end();
    await ended;
    const total = writes.reduce((n, w) => n + w.length, 0);
    expect(Buffer.concat(received).equals(Buffer.concat(writes))).toBe(true);
    expect(flushed.at(-1)).toBe(total);
    expect(flushed.every((v, i) => i === 0 || v > flushed[i - 1])).toBe(true);
    expect(paced.accepted).toBe(total);
  });

  it('never sends faster than its rate (virtual clock: the pacing, not the machine, is measured)', async () => {
    const { client, received, ended } = await pair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let done = false;
    try {
      const rate = 400_000; // bytes/s; slices are the 4 KiB minimum at this rate
      const paced = new PacedStream(client, rate);
      paced.write(randomBytes(200_000));
      expect(paced.flushed, 'at once: at most one slice, not the whole write').toBeLessThanOrEqual(4096);
      for (const ms of [100, 200, 300]) {
        vi.advanceTimersByTime(100);
        // The first slice leaves at once, the rest at the rate: at most rate × elapsed + one slice.
        expect(paced.flushed, `after ${ms} ms`).toBeLessThanOrEqual((rate * ms) / 1000 + 4096);
        // ...and it keeps going (timer rounding costs it a little, never more than a fraction).
        expect(paced.flushed, `after ${ms} ms`).toBeGreaterThanOrEqual((0.8 * rate * ms) / 1000);
      }
      vi.advanceTimersByTime(1000);
      expect(paced.flushed).toBe(200_000);
      paced.end();
      done = true;
    } finally {
      vi.useRealTimers();
      if (!done) client.destroy(); // a failed check must not leave the server waiting for this connection
    }
    await ended;
    expect(Buffer.concat(received).length).toBe(200_000);
  });
});
