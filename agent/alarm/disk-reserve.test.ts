import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { mountSmallFs } from '../../test/support/small-fs.js';
import { makeTempDir } from '../../test/support/temp.js';
import { Outbox } from '../transport/outbox.js';
import { isStorageFailure } from './alarm-service.js';
import { DiskReserve } from './disk-reserve.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const MiB = 1024 * 1024;

describe('DiskReserve on a real full filesystem (tmpfs)', () => {
  it('holds allocated space, and a released slice lets the outbox commit an alarm the full disk refused', async () => {
    const root = cleanup.add(await makeTempDir('nrec-reserve-'), (d) => d.remove());
    const fs = cleanup.add(await mountSmallFs(root.file('mnt'), 4 * MiB), (f) => f.unmount());
    const reserve = new DiskReserve(`${fs.path}/alarm-reserve`, { bytes: MiB, sliceBytes: 256 * 1024 });
    expect(await reserve.refill()).toBe(MiB);
    expect(statSync(reserve.path).blocks * 512).toBeGreaterThanOrEqual(MiB); // zeros written, not a hole
    const outbox = cleanup.add(Outbox.open(`${fs.path}/outbox.db`, { capacityBytes: 64 * MiB }), (o) => o.close());
    const alarm = (n: number) => ({ lane: 'alarm' as const, topic: 'nrec/v1/d/alarm', payload: Buffer.alloc(64 * 1024, n), msgId: `a-${n}` });
    await outbox.put(alarm(0));
    await fs.fill();

    const refused = await outbox.put(alarm(1)).then(() => undefined, (err: unknown) => err);
    expect(refused, 'the full disk took the alarm without the reserve').toBeInstanceOf(Error);
    expect(isStorageFailure(refused)).toBe(true);
    expect(reserve.release()).toEqual({ freedBytes: 256 * 1024, heldBytes: 768 * 1024 });
    expect(reserve.releasedBytes).toBe(256 * 1024);
    await outbox.put(alarm(1));
    expect(outbox.stats().alarm.count).toBe(2);

    // Refilled only with room beyond what it must leave free; then back to full once the filler goes.
    expect(await reserve.refill(MiB)).toBe(768 * 1024);
    await fs.unfill();
    expect(await reserve.refill(MiB)).toBe(MiB);
    expect(reserve.releasedBytes).toBe(0);
  });

  it('tells storage failures from others by their codes', () => {
    expect(isStorageFailure(new Error('outbox commit failed', { cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) }))).toBe(true);
    expect(isStorageFailure(Object.assign(new Error('no space'), { code: 'ENOSPC' }))).toBe(true);
    expect(isStorageFailure(new Error('outbox is closed'))).toBe(false);
    expect(isStorageFailure(new Error('no space left on device'))).toBe(false); // text is not a code
  });
});
