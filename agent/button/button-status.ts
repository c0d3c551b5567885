import type { GpioBackend } from './gpio-line.js';

/** The alarm button's state as the health report carries it (`states.button`). */
export interface ButtonState extends Record<string, unknown> {
  /** `starting` until the line is first opened; `ok` while it is watched; `fault` while it cannot be (an SOS cannot be raised). */
  state: 'starting' | 'ok' | 'fault';
  backend: GpioBackend;
  chip: string;
  line: string | number;
  /** Why the line cannot be watched, while `state` is `fault`. */
  reason?: string;
}

/**
 * Holds the button's state for the health report and says when it changed,
 * so a fault reaches the platform in the next report rather than the next
 * interval. A repeat of the same state is not a change.
 */
export class ButtonStatus {
  #state: ButtonState;
  readonly #onChange: (s: ButtonState) => void;

  constructor(where: { backend: GpioBackend; chip: string; line: string | number }, onChange: (s: ButtonState) => void) {
    this.#state = { state: 'starting', ...where };
    this.#onChange = onChange;
  }

  get(): ButtonState {
    return { ...this.#state };
  }

  ok(): void {
    this.#set('ok', undefined);
  }

  fault(reason: string): void {
    this.#set('fault', reason);
  }

  #set(state: ButtonState['state'], reason: string | undefined): void {
    if (this.#state.state === state && this.#state.reason === reason) return;
    const { reason: _old, ...rest } = this.#state;
    this.#state = reason === undefined ? { ...rest, state } : { ...rest, state, reason };
    this.#onChange(this.get());
  }
}
