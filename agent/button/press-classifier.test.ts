import { describe, expect, it } from 'vitest';
import { Debouncer } from './debounce.js';
import { PressClassifier, resolvePressClassifierOptions, type PressClassifierOptions, type PressEvent } from './press-classifier.js';
import { ManualScheduler } from '../../lib/scheduler.js';

/** A debouncer + classifier on a manual clock, fed raw levels like a line would. */
function rig(opts: Partial<PressClassifierOptions> = {}) {
  const s = new ManualScheduler(1000);
  const events: PressEvent[] = [];
  const classifier = new PressClassifier(s, (e) => events.push(e), opts);
  const debouncer = new Debouncer(s, (l) => classifier.input(l));
  debouncer.reset(0);
  classifier.reset(0, s.now());
  const level = (v: 0 | 1): void => debouncer.input(v, s.now());
  const press = (holdMs: number): void => {
    level(1);
    s.advance(holdMs);
    level(0);
  };
  const kinds = (): string[] => events.map((e) => e.kind);
  return { s, events, kinds, level, press, debouncer, classifier };
}

describe('debounce + press classification', () => {
  it('turns a bounce train followed by a 2 s hold into exactly one sos', () => {
    const r = rig();
    const start = r.s.now();
    for (let i = 0; i < 10; i++) {
      r.level(i % 2 === 0 ? 1 : 0);
      r.s.advance(2);
    }
    r.level(1);
    const settledFrom = r.s.now();
    r.s.advance(2000);
    r.level(0);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['long', 'sos']);
    const sos = r.events.find((e) => e.kind === 'sos');
    // SOS fires at the threshold, measured from the last bounce, not on release.
    expect(sos?.at).toBe(settledFrom + 1500);
    expect(settledFrom - start).toBe(20);
  });

  it('ignores a glitch shorter than the debounce time', () => {
    const r = rig();
    r.press(20);
    r.s.advance(5000);
    expect(r.events).toEqual([]);
  });

  it('ignores bouncing on release after a long press', () => {
    const r = rig();
    r.level(1);
    r.s.advance(1600);
    for (let i = 0; i < 6; i++) {
      r.level(i % 2 === 0 ? 0 : 1);
      r.s.advance(3);
    }
    r.level(0);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['long', 'sos']);
  });

  it('classifies short, double and triple presses', () => {
    const r = rig();
    r.press(100);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['short']);

    r.press(100);
    r.s.advance(150);
    r.press(100);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['short', 'double']);

    r.press(80);
    r.s.advance(150);
    r.press(80);
    r.s.advance(150);
    r.press(80);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['short', 'double', 'triple']);
  });

  it('treats presses further apart than the window as separate shorts', () => {
    const r = rig();
    r.press(100);
    r.s.advance(600);
    r.press(100);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['short', 'short']);
  });

  it('raises sos on a triple press only when configured', () => {
    const r = rig({ sosOnTriplePress: true, sosOnLongPress: false });
    for (let i = 0; i < 3; i++) {
      r.press(80);
      r.s.advance(150);
    }
    r.press(1600);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['triple', 'sos', 'long']);
  });

  it('reports a stuck line once, then unstuck on release, with no alarm storm', () => {
    const r = rig();
    r.level(1);
    r.s.advance(120_000);
    r.level(0);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['long', 'sos', 'stuck', 'unstuck']);
  });

  it('does not count a level found pressed at start as a press, but still reports it stuck', () => {
    const r = rig();
    r.debouncer.reset(1);
    r.classifier.reset(1, r.s.now());
    r.s.advance(31_000);
    r.level(0);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['stuck', 'unstuck']);
  });

  it('cancels with a double press inside the cancel window', () => {
    const r = rig();
    r.press(1600);
    r.s.advance(3000);
    r.press(100);
    r.s.advance(150);
    r.press(100);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['long', 'sos', 'double', 'cancel']);
  });

  it('does not cancel with a double press after the cancel window', () => {
    const r = rig();
    r.press(1600);
    r.s.advance(11_000);
    r.press(100);
    r.s.advance(150);
    r.press(100);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['long', 'sos', 'double']);
  });

  it('honours another cancel gesture and cancels only once per alarm', () => {
    const r = rig({ cancelGesture: 'short' });
    r.press(1600);
    r.s.advance(1000);
    r.press(100);
    r.s.advance(1000);
    r.press(100);
    r.s.advance(1000);
    expect(r.kinds()).toEqual(['long', 'sos', 'short', 'cancel', 'short']);
  });

  it('rejects contradictory options, naming them', () => {
    expect(() => resolvePressClassifierOptions({ sosOnTriplePress: true, cancelGesture: 'triple' })).toThrow(/cancelGesture/);
    expect(() => resolvePressClassifierOptions({ stuckMs: 1000 })).toThrow(/stuckMs/);
    expect(() => resolvePressClassifierOptions({ longPressMs: -1 })).toThrow(/longPressMs/);
  });
});
