/**
 * Collects teardown callbacks so a test can register cleanup as it creates
 * things and release them all in afterEach/afterAll, even when it failed midway.
 */
export class Cleanup {
  readonly #tasks: Array<() => Promise<unknown> | unknown> = [];

  /** Registers a teardown; returns the value for chaining. */
  add<T>(value: T, teardown: (v: T) => Promise<unknown> | unknown): T {
    this.#tasks.push(() => teardown(value));
    return value;
  }

  /** Runs every teardown, newest first; collects errors instead of stopping at the first. */
  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.#tasks.length > 0) {
      const t = this.#tasks.pop()!;
      try {
        await t();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}
