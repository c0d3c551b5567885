import { describe, expect, it } from 'vitest';
import { Feedback } from './feedback.js';
import type { OutputLine } from './gpio-line.js';
import { ManualScheduler } from '../../lib/scheduler.js';

class RecordingOutput implements OutputLine {
  levels: Array<{ value: 0 | 1; at: number }> = [];
  constructor(readonly s: ManualScheduler, readonly failAt = -1) {}
  async set(value: 0 | 1): Promise<void> {
    if (this.levels.length === this.failAt) {
      this.levels.push({ value, at: -1 });
      throw new Error('LED line gone');
    }
    this.levels.push({ value, at: this.s.now() });
  }
  async close(): Promise<void> {}
}

describe('feedback output', () => {
  it('blinks while raised, is steady when acknowledged and off when resolved', async () => {
    const s = new ManualScheduler();
    const out = new RecordingOutput(s);
    const f = new Feedback(out, s, { blinkMs: 250 });
    f.show('raised');
    await f.flush();
    for (let i = 0; i < 4; i++) {
      s.advance(250);
      await f.flush();
    }
    expect(out.levels).toEqual([
      { value: 1, at: 0 },
      { value: 0, at: 250 },
      { value: 1, at: 500 },
      { value: 0, at: 750 },
      { value: 1, at: 1000 },
    ]);
    f.show('acknowledged');
    f.show('acknowledged');
    s.advance(2000);
    await f.flush();
    // The blink ended on 1, so steady on needs no write; nothing toggles any more.
    expect(out.levels).toHaveLength(5);
    expect(out.levels.at(-1)?.value).toBe(1);
    f.show('resolved');
    await f.flush();
    expect(out.levels.at(-1)?.value).toBe(0);
    expect(s.pending).toBe(0);
  });

  it('turns off for idle and cancelled, and keeps blinking after an output error', async () => {
    const s = new ManualScheduler();
    const out = new RecordingOutput(s, 1);
    const errors: Error[] = [];
    const f = new Feedback(out, s, { blinkMs: 100, onError: (e) => errors.push(e) });
    f.show('raised');
    for (let i = 0; i < 3; i++) {
      s.advance(100);
      await f.flush();
    }
    expect(errors.map((e) => e.message)).toEqual(['LED line gone']);
    expect(out.levels.map((l) => l.value)).toEqual([1, 0, 1, 0]);
    f.show('cancelled');
    await f.flush();
    expect(out.levels.at(-1)?.value).toBe(0);
    await f.dispose();
    expect(s.pending).toBe(0);
  });

  it('coalesces levels decided while a slow write runs: the newest is applied next, no backlog', async () => {
    const s = new ManualScheduler();
    const applied: Array<0 | 1> = [];
    let finish: (() => void) | undefined;
    const slow: OutputLine = {
      set: (v) => new Promise<void>((r) => (finish = () => { applied.push(v); r(); })),
      close: async () => {},
    };
    const f = new Feedback(slow, s, { blinkMs: 100 });
    f.show('raised'); // writes 1, which hangs
    s.advance(300); // toggles to 0, 1, 0 meanwhile
    f.show('acknowledged'); // steady on
    finish!();
    await new Promise((r) => setImmediate(r));
    // 1 is already on the line: the coalesced newest level (1) needs no second write.
    expect(applied).toEqual([1]);
    f.show('resolved');
    await new Promise((r) => setImmediate(r));
    finish!();
    await f.flush();
    expect(applied).toEqual([1, 0]);
  });

  it('does nothing without an output line', async () => {
    const s = new ManualScheduler();
    const f = new Feedback(undefined, s);
    f.show('raised');
    s.advance(1000);
    await f.dispose();
    expect(s.pending).toBe(0);
  });
});
