import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** A compiled validator for one schema; errors name the field (JSON pointer) and the rule. */
export class Validator<S extends TSchema> {
  readonly #check: TypeCheck<S>;
  readonly name: string;

  constructor(schema: S) {
    this.#check = TypeCompiler.Compile(schema);
    this.name = String(schema.$id ?? schema.title ?? 'value');
  }

  /** Validates an already-parsed value. */
  check(value: unknown): Validation<Static<S>> {
    if (this.#check.Check(value)) return { ok: true, value };
    const errors: string[] = [];
    for (const e of this.#check.Errors(value)) {
      errors.push(`${this.name}${e.path === '' ? '' : ` field ${e.path}`}: ${e.message}`);
      if (errors.length >= 5) break;
    }
    return { ok: false, errors };
  }

  /** Parses JSON bytes and validates; a parse failure is reported like a rule failure. */
  parse(payload: Buffer | string): Validation<Static<S>> {
    let value: unknown;
    try {
      value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
    } catch (err) {
      return { ok: false, errors: [`${this.name}: payload is not JSON (${(err as Error).message})`] };
    }
    return this.check(value);
  }
}
