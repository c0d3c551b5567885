import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModeMachine, type ModeAction, type ModeOptions } from './mode.js';

interface C { name: string; startTime: number; endTime: number }

function setup(opts: Partial<ModeOptions> = {}) {
  const clock = { t: 0 };
  let n = 0;
  const m = new ModeMachine<C>({ bufferS: 6, postEventS: 10, endGraceMs: 5000, now: () => clock.t, newSessionId: () => `s${++n}`, ...opts });
  /** Chunk i covers [2i, 2i+2) s; the clock is at its end when it is listed. */
  const chunk = (i: number): ModeAction<C>[] => {
    clock.t = (i + 1) * 2000;
    return m.onChunk({ name: `c${i}`, startTime: i * 2000, endTime: (i + 1) * 2000 });
  };
  return { m, clock, chunk };
}

const names = (actions: ModeAction<C>[], type: 'delete' | 'commit') =>
  actions.flatMap((a) => (a.type === type ? [a.chunk.name] : []));

describe('ModeMachine', () => {
  it('buffering keeps only the last N seconds of chunks and deletes older ones, oldest first', () => {
    const { m, chunk } = setup();
    const actions = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap(chunk);
    expect(names(actions, 'delete')).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    expect(m.buffered.map((c) => c.name)).toEqual(['c7', 'c8', 'c9']);
    expect(m.mode).toBe('buffering');
  });

  it('SOS commits the pre-event buffer, then records for the post-event time and returns to buffering', () => {
    const { m, clock, chunk } = setup();
    [0, 1, 2, 3, 4, 5].forEach(chunk);
    clock.t = 12_500;
    const sos = m.onSos('alarm-1');
    expect(sos[0]).toMatchObject({ type: 'session-start', session: { sessionId: 's1', trigger: 'sos', startedAt: 12_500 } });
    expect(sos.filter((a) => a.type === 'commit').map((a) => a.type === 'commit' && [a.chunk.name, a.preEvent])).toEqual([
      ['c3', true], ['c4', true], ['c5', true],
    ]);
    expect(sos.at(-1)).toEqual({ type: 'alarm', sessionId: 's1', alarmId: 'alarm-1' });
    expect(m.mode).toBe('recording');

    // Post-event window ends at 22.5 s: chunks starting before it are in the session.
    const during = [6, 7, 8, 9, 10, 11].flatMap(chunk);
    expect(names(during, 'commit')).toEqual(['c6', 'c7', 'c8', 'c9', 'c10', 'c11']);
    expect(during.some((a) => a.type === 'session-end')).toBe(false);
    const closing = chunk(12); // starts at 24 s, after the window
    expect(closing[0]).toEqual({ type: 'session-end', sessionId: 's1', endedAt: 22_500 });
    expect(names(closing, 'commit')).toEqual([]);
    expect(m.mode).toBe('buffering');
    expect(m.buffered.map((c) => c.name)).toEqual(['c12']);
  });

  it('a second SOS extends the window and adds its alarm once', () => {
    const { m, clock, chunk } = setup();
    chunk(0);
    m.onSos('a1');
    clock.t = 8000;
    expect(m.onSos('a2')).toEqual([{ type: 'alarm', sessionId: 's1', alarmId: 'a2' }]);
    expect(m.onSos('a2')).toEqual([]);
    expect([1, 2, 3, 4, 5, 6, 7, 8].flatMap(chunk).some((a) => a.type === 'session-end')).toBe(false); // until 18 s
    expect(chunk(9)[0]).toMatchObject({ type: 'session-end', endedAt: 18_000 });
    expect(m.session).toBeUndefined();
  });

  it('a visit drops the pre-visit buffer, records until stopRecording, and keeps the chunk covering the stop', () => {
    const { m, clock, chunk } = setup();
    [0, 1].forEach(chunk);
    clock.t = 4100;
    const start = m.startRecording('visit-7');
    expect(names(start, 'delete')).toEqual(['c0', 'c1']);
    expect(start.at(-1)).toMatchObject({ type: 'session-start', session: { trigger: 'visit', visitId: 'visit-7' } });
    expect(names([2, 3, 4].flatMap(chunk), 'commit')).toEqual(['c2', 'c3', 'c4']);
    clock.t = 10_700;
    m.stopRecording();
    expect(names(chunk(5), 'commit')).toEqual(['c5']); // covers 10-12 s, so it holds the stop moment
    expect(chunk(6)[0]).toEqual({ type: 'session-end', sessionId: 's1', endedAt: 10_700 });
  });

  it('stopping a visit during an SOS keeps recording until the SOS post-event time', () => {
    const { m, clock, chunk } = setup();
    m.startRecording('v1');
    chunk(0);
    clock.t = 3000;
    m.onSos('a1'); // window until 13 s
    clock.t = 5000;
    m.stopRecording();
    const acts = [1, 2, 3, 4, 5].flatMap(chunk);
    expect(names(acts, 'commit')).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect(acts.some((a) => a.type === 'session-end')).toBe(false);
    expect(chunk(7)[0]).toMatchObject({ type: 'session-end', endedAt: 13_000 });
  });

  it('tick ends a session whose closing chunk never arrives, only after the grace time', () => {
    const { m, clock } = setup();
    clock.t = 1000;
    m.onSos('a1');
    expect(m.deadline).toBe(16_000);
    clock.t = 15_999;
    expect(m.tick()).toEqual([]);
    clock.t = 16_000;
    expect(m.tick()).toEqual([{ type: 'session-end', sessionId: 's1', endedAt: 11_000 }]);
  });

  it('off deletes chunks and wants no capture; an SOS still records, without a pre-event buffer', () => {
    const { m, chunk } = setup({ base: 'off' });
    expect(m.wantsCapture).toBe(false);
    const sos = m.onSos('a1');
    expect(sos.filter((a) => a.type === 'commit')).toEqual([]);
    expect(m.wantsCapture).toBe(true);
    expect(names(chunk(0), 'commit')).toEqual(['c0']);
  });

  it('gaps are recorded only inside a session', () => {
    const { m } = setup();
    const gap = { from: 1, to: 2, reason: 'ffmpeg exited' };
    expect(m.onGap(gap)).toEqual([]);
    m.onSos('a1');
    expect(m.onGap(gap)).toEqual([{ type: 'gap', sessionId: 's1', gap }]);
  });

  it('property: the buffer always covers the last N seconds and nothing older than one chunk beyond them', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 200, max: 15_000 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (durs, bufferS) => {
        const m = new ModeMachine<C>({ bufferS, now: () => 0, newSessionId: () => 's' });
        let t = 0;
        const deleted: string[] = [];
        for (const [i, d] of durs.entries()) {
          for (const a of m.onChunk({ name: `c${i}`, startTime: t, endTime: t + d })) if (a.type === 'delete') deleted.push(a.chunk.name);
          t += d;
        }
        const kept = m.buffered;
        expect(kept.at(-1)!.name).toBe(`c${durs.length - 1}`);
        expect(kept[0].endTime).toBeGreaterThan(t - bufferS * 1000); // nothing kept that ended before the window
        if (deleted.length > 0) expect(kept[0].startTime).toBeLessThanOrEqual(t - bufferS * 1000); // the window is fully covered
        expect(deleted.length + kept.length).toBe(durs.length);
      }),
    );
  });
});
