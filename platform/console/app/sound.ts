/*
 * The alarm sound: a two-tone beep repeated every two seconds while an alarm
 * waits for acknowledgement. Browsers refuse to play sound before the person
 * has interacted with the page (after a reload, on a wall screen): then the
 * state is `blocked`, the desk says so, and the first click or key press
 * anywhere unlocks it.
 */

export type SoundState = 'off' | 'playing' | 'blocked' | 'unsupported';

const PERIOD_MS = 2000;

export class AlarmSound {
  state: SoundState = 'off';
  onChange: (s: SoundState) => void = () => undefined;
  #ctx: AudioContext | undefined;
  #want = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    const unlock = () => this.unlock();
    // Capture phase: a gesture counts whatever element it lands on.
    window.addEventListener('pointerdown', unlock, true);
    window.addEventListener('keydown', unlock, true);
  }

  /** Call from a user gesture (the sign-in click does): lets the browser start the audio. */
  unlock(): void {
    const ctx = this.#context();
    if (ctx !== undefined && ctx.state !== 'running') void ctx.resume().then(() => this.#update(), () => this.#update());
    this.#update();
  }

  /** Sound on (an alarm is waiting) or off. */
  want(on: boolean): void {
    if (on === this.#want) return;
    this.#want = on;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (on) {
      this.#beep();
      this.#timer = setInterval(() => this.#beep(), PERIOD_MS);
    }
    this.#update();
  }

  #context(): AudioContext | undefined {
    if (this.#ctx !== undefined) return this.#ctx;
    const Ctor = window.AudioContext as typeof AudioContext | undefined;
    if (Ctor === undefined) return undefined;
    this.#ctx = new Ctor();
    this.#ctx.onstatechange = () => this.#update();
    return this.#ctx;
  }

  #beep(): void {
    const ctx = this.#context();
    if (ctx === undefined) return this.#update();
    if (ctx.state !== 'running') {
      // Asking again costs nothing; it succeeds once the page has had a gesture.
      void ctx.resume().then(() => this.#update(), () => this.#update());
      return this.#update();
    }
    const t0 = ctx.currentTime;
    for (const [i, freq] of [880, 660, 880].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      const start = t0 + i * 0.3;
      gain.gain.setValueAtTime(0, start);
      gain.gain.linearRampToValueAtTime(0.25, start + 0.02);
      gain.gain.linearRampToValueAtTime(0, start + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.27);
    }
    this.#update();
  }

  #update(): void {
    const ctx = this.#ctx;
    let next: SoundState;
    if (!this.#want) next = 'off';
    else if (ctx === undefined && window.AudioContext === undefined) next = 'unsupported';
    else next = ctx?.state === 'running' ? 'playing' : 'blocked';
    if (next === this.state) return;
    this.state = next;
    // Also in the browser's log, for whoever looks at a wall screen's developer tools (and for the tests, which must not touch the page to see it).
    if (next === 'blocked') console.warn('nrec console: the browser blocks the alarm sound until someone clicks or presses a key on the page');
    this.onChange(next);
  }
}
