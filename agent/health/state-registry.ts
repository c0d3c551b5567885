/** A module's current state: a small record or a single word. Should be discrete: every change of it triggers a report. */
export type StateValue = Record<string, unknown> | string;
export type StateProvider = () => StateValue;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Named state providers other modules register (gps link, button, recorder).
 * The monitor polls them; a provider that throws is reported as
 * `{ error: message }` rather than breaking the heartbeat. Values are
 * copied as JSON.
 */
export class StateRegistry {
  readonly #providers = new Map<string, StateProvider>();

  /** Registers (or replaces) the provider for `name`; returns a function that unregisters it. */
  registerState(name: string, get: StateProvider): () => void {
    if (!NAME.test(name)) throw new Error(`health state name "${name}" is invalid: use 1-64 of [A-Za-z0-9_.-]`);
    this.#providers.set(name, get);
    return () => {
      if (this.#providers.get(name) === get) this.#providers.delete(name);
    };
  }

  /** The registered names, in registration order. */
  get names(): string[] {
    return [...this.#providers.keys()];
  }

  /** Calls every provider; a throwing one yields `{ error }`. */
  collect(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, get] of this.#providers) {
      try {
        // A copy as JSON: the report must not change when the module mutates its object later,
        // and what cannot be sent (functions, cycles) fails here, named, not in the transport.
        out[name] = JSON.parse(JSON.stringify(get()) ?? 'null') as unknown;
      } catch (err) {
        out[name] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return out;
  }
}
