import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualScheduler } from '../../lib/scheduler.js';
import { canTransition, SosMachine, type SosResend, type SosState, type SosStore, type SosTransition } from './sos-machine.js';
import { FileSosStore, SOS_SLOT_BYTES } from './sos-store.js';

class MemoryStore implements SosStore {
  state: SosState | undefined;
  saves = 0;
  load(): SosState | undefined {
    return this.state;
  }
  save(state: SosState): void {
    this.state = { ...state };
    this.saves += 1;
  }
}

function machine(store?: SosStore) {
  const s = new ManualScheduler();
  let wall = 1_700_000_000_000;
  const m = new SosMachine(s, store, { wallClock: () => wall + s.now(), resendIntervalMs: 15_000 });
  const transitions: SosTransition[] = [];
  const resends: SosResend[] = [];
  m.on('transition', (t: SosTransition) => transitions.push(t));
  m.on('resend', (r: SosResend) => resends.push(r));
  return { s, m, transitions, resends, setWall: (w: number) => (wall = w) };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('SOS state machine', () => {
  it('goes idle → raised → acknowledged → resolved', () => {
    const { m, transitions } = machine();
    const r = m.raise('alarm-1');
    expect(r.ok).toBe(true);
    expect(m.acknowledge('alarm-1').ok).toBe(true);
    expect(m.resolve('alarm-1').ok).toBe(true);
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['idle>raised', 'raised>acknowledged', 'acknowledged>resolved']);
    expect(m.state).toMatchObject({ phase: 'resolved', alarmId: 'alarm-1' });
    expect(m.state.acknowledgedAt).toBeTypeOf('number');
  });

  it('keeps a cancelled alarm on record and allows a new one after', () => {
    const { m, transitions } = machine();
    m.raise('a1');
    expect(m.cancel().ok).toBe(true);
    expect(m.state).toMatchObject({ phase: 'cancelled', alarmId: 'a1' });
    expect(m.state.raisedAt).toBeTypeOf('number');
    expect(m.raise('a2').ok).toBe(true);
    expect(transitions.map((t) => `${t.to}:${t.alarmId}`)).toEqual(['raised:a1', 'cancelled:a1', 'raised:a2']);
  });

  it('rejects invalid transitions with a reason and without throwing', () => {
    const { m, transitions } = machine();
    const ack = m.acknowledge('nope');
    expect(ack.ok).toBe(false);
    if (!ack.ok) expect(ack.error).toMatch(/not the current alarm/);
    m.raise('a1');
    const again = m.raise('a2');
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error).toMatch(/already raised/);
    const wrong = m.acknowledge('a2');
    expect(wrong.ok).toBe(false);
    m.resolve('a1');
    const late = m.acknowledge('a1');
    expect(late.ok).toBe(false);
    if (!late.ok) expect(late.error).toMatch(/from resolved to acknowledged/);
    expect(m.cancel().ok).toBe(false);
    expect(transitions).toHaveLength(2);
    expect(canTransition('idle', 'acknowledged')).toBe(false);
    expect(canTransition('acknowledged', 'cancelled')).toBe(true);
  });

  it('generates a UUID when the caller gives no id', () => {
    const { m } = machine();
    m.raise();
    expect(m.state.alarmId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('re-sends with a rising escalation count until acknowledged', () => {
    const { s, m, resends } = machine();
    m.raise('a1');
    s.advance(14_999);
    expect(resends).toHaveLength(0);
    s.advance(1);
    s.advance(30_000);
    expect(resends.map((r) => r.escalation)).toEqual([1, 2, 3]);
    expect(m.state.escalation).toBe(3);
    m.acknowledge('a1');
    s.advance(60_000);
    expect(resends).toHaveLength(3);
    expect(s.pending).toBe(0);
  });

  it('raises and keeps re-sending when every save fails (a full disk), reports each failure as a fault and the recovery once saves work again', () => {
    let failing = true;
    const saved: SosState[] = [];
    const store: SosStore = {
      load: () => undefined,
      save: (st) => {
        if (failing) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        saved.push({ ...st });
      },
    };
    const { s, m, transitions, resends } = machine(store);
    const faults: string[] = [];
    let recovered = 0;
    m.on('fault', (f) => faults.push(`${f.kind}: ${f.error.message}`));
    m.on('store-recovered', () => recovered++);
    expect(m.raise('a1').ok).toBe(true);
    expect(transitions.map((t) => t.to)).toEqual(['raised']);
    s.advance(45_000);
    expect(resends.map((r) => r.escalation)).toEqual([1, 2, 3]);
    expect(faults).toHaveLength(4);
    expect(faults[0]).toMatch(/^store-save: ENOSPC/);
    failing = false;
    s.advance(15_000);
    expect(resends.map((r) => r.escalation)).toEqual([1, 2, 3, 4]);
    expect(saved).toEqual([expect.objectContaining({ phase: 'raised', alarmId: 'a1', escalation: 4 })]);
    expect(recovered).toBe(1);
    expect(m.acknowledge('a1').ok).toBe(true);
  });

  it('a listener that throws neither stops the re-send loop nor escapes from its timer', () => {
    const { s, m, resends } = machine(new MemoryStore());
    const faults: string[] = [];
    m.on('fault', (f) => faults.push(f.kind));
    m.on('resend', () => {
      throw new Error('feedback LED gone');
    });
    m.on('transition', () => {
      throw new Error('listener bug');
    });
    expect(m.raise('a1').ok).toBe(true);
    expect(() => s.advance(30_000)).not.toThrow();
    expect(resends.map((r) => r.escalation)).toEqual([1, 2]);
    expect(faults).toEqual(['listener', 'listener', 'listener']);
  });

  it('saves every transition and re-send before announcing it', () => {
    const store = new MemoryStore();
    const { s, m } = machine(store);
    m.on('transition', () => expect(store.state?.phase).toBe(m.state.phase));
    m.raise('a1');
    s.advance(15_000);
    expect(store.state).toMatchObject({ phase: 'raised', escalation: 1 });
    expect(store.saves).toBe(2);
  });

  it('survives a restart through the file store with the same alarm id and escalation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nrec-sos-'));
    dirs.push(dir);
    const path = join(dir, 'state', 'sos.dat');
    const first = machine(new FileSosStore(path));
    first.m.raise();
    const id = first.m.state.alarmId;
    first.s.advance(30_000);
    first.m.dispose();
    expect(readdirSync(join(dir, 'state'))).toEqual(['sos.dat']); // no temp file left behind

    const store = new FileSosStore(path);
    const second = machine(store);
    expect(second.m.state).toMatchObject({ phase: 'raised', alarmId: id, escalation: 2 });
    second.s.advance(15_000);
    expect(second.resends).toEqual([expect.objectContaining({ alarmId: id, escalation: 3 })]);
    expect(second.m.acknowledge(id ?? '').ok).toBe(true);
    second.m.dispose();
    store.close();
    expect(new FileSosStore(path).load()).toMatchObject({ phase: 'acknowledged', alarmId: id });
  });

  it('names the file when the stored state is corrupt, and the machine then starts idle with the fault kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nrec-sos-'));
    dirs.push(dir);
    const path = join(dir, 'sos.dat');
    writeFileSync(path, Buffer.alloc(SOS_SLOT_BYTES * 2, 0x41));
    expect(() => new FileSosStore(path).load()).toThrow(path);
    const { m } = machine(new FileSosStore(path));
    expect(m.state.phase).toBe('idle');
    expect(m.loadFault?.message).toMatch(/holds no valid state/);
    expect(m.raise('a1').ok).toBe(true); // the button works
    expect(new FileSosStore(join(dir, 'missing.dat')).load()).toBeUndefined();
    // A legacy JSON state that is not valid is named too.
    writeFileSync(join(dir, 'old.json'), '{not json');
    expect(() => new FileSosStore(join(dir, 'fresh.dat'), join(dir, 'old.json')).load()).toThrow(/old\.json is not JSON/);
  });
});
