import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { mountSmallFs } from '../../test/support/small-fs.js';
import { makeTempDir } from '../../test/support/temp.js';
import type { SosState } from './sos-machine.js';
import { FileSosStore, SOS_SLOT_BYTES } from './sos-store.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const raised = (escalation: number): SosState => ({ phase: 'raised', alarmId: 'alarm-1', raisedAt: 1_700_000_000_000, escalation });

describe('FileSosStore', () => {
  it('is preallocated at its full size when opened and overwritten in place: same file, same size, whatever is saved', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-sos-store-'), (d) => d.remove());
    const path = dir.file('sos.dat');
    const store = cleanup.add(new FileSosStore(path), (s) => s.close());
    expect(store.load()).toBeUndefined();
    const before = statSync(path);
    expect(before.size).toBe(2 * SOS_SLOT_BYTES);
    expect(before.blocks * 512).toBeGreaterThanOrEqual(2 * SOS_SLOT_BYTES); // allocated, not a sparse hole
    for (let i = 0; i < 5; i++) store.save(raised(i));
    const after = statSync(path);
    expect([after.ino, after.size]).toEqual([before.ino, before.size]);
    expect(new FileSosStore(path).load()).toEqual(raised(4));
  });

  it('a torn write of one slot (power cut mid-write) leaves the state saved before it', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-sos-store-'), (d) => d.remove());
    const path = dir.file('sos.dat');
    const store = new FileSosStore(path);
    store.load();
    store.save(raised(1)); // generation 1: slot 1
    store.save(raised(2)); // generation 2: slot 0
    store.close();
    const bytes = readFileSync(path);
    // Tear the newest slot halfway through its JSON.
    bytes.fill(0x20, 40, SOS_SLOT_BYTES);
    writeFileSync(path, bytes);
    expect(new FileSosStore(path).load()).toEqual(raised(1));
  });

  it('migrates the JSON state file of earlier versions and removes it', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-sos-store-'), (d) => d.remove());
    const legacy = dir.file('sos-state.json');
    writeFileSync(legacy, `${JSON.stringify(raised(3))}\n`);
    const store = new FileSosStore(dir.file('sos-state.dat'), legacy);
    expect(store.load()).toEqual(raised(3));
    store.close();
    expect(existsSync(legacy)).toBe(false);
    expect(new FileSosStore(dir.file('sos-state.dat'), legacy).load()).toEqual(raised(3));
  });

  it('keeps saving on a full filesystem, where a write-temp-and-rename save fails (real tmpfs, filled to ENOSPC)', async () => {
    const root = cleanup.add(await makeTempDir('nrec-sos-full-'), (d) => d.remove());
    const fs = cleanup.add(await mountSmallFs(root.file('mnt'), 1024 * 1024), (f) => f.unmount());
    const store = cleanup.add(new FileSosStore(`${fs.path}/sos.dat`), (s) => s.close());
    expect(store.load()).toBeUndefined(); // opened (and preallocated) at start-up, while there is room
    store.save(raised(0));
    await fs.fill();
    expect(await fs.freeBytes()).toBe(0);
    // What the store did before: a new file per save. It cannot be written any more.
    expect(() => writeFileSync(`${fs.path}/.sos.tmp`, JSON.stringify(raised(1)).repeat(200))).toThrow(/ENOSPC/);
    for (let i = 1; i <= 10; i++) store.save(raised(i));
    store.close();
    expect(new FileSosStore(`${fs.path}/sos.dat`).load()).toEqual(raised(10));
  });
});
