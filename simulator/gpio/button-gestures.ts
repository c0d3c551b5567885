import { setTimeout as sleep } from 'node:timers/promises';

/** What a stand-in's button can do; both GPIO stand-ins implement it. */
export interface PressableButton {
  press(): void;
  release(): void;
}

/** Presses, waits `ms`, releases. */
export async function holdButton(b: PressableButton, ms: number): Promise<void> {
  b.press();
  await sleep(ms);
  b.release();
}

/**
 * Contact bounce: toggles pressed/released, starting with pressed, waiting
 * each duration in `pattern` (ms), then settles on `end`.
 */
export async function bounceButton(b: PressableButton, pattern: number[], end: 'pressed' | 'released'): Promise<void> {
  let pressed = false;
  for (const ms of pattern) {
    pressed = !pressed;
    if (pressed) b.press();
    else b.release();
    await sleep(ms);
  }
  if (end === 'pressed') b.press();
  else b.release();
}
