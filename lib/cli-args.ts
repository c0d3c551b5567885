import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Bad usage of a command: an unknown flag, a missing or extra argument, a
 * value that is not a number. The CLI prints it as one line and exits 2,
 * so every subcommand reports bad usage the same way.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface ArgSpec<O extends Options> {
  options: O;
  /** Names of the positional arguments in order, for messages; `...` on the last one takes any number. */
  positionals?: string[];
  /** How many positionals must be given (default 0). */
  required?: number;
}

/**
 * util.parseArgs in strict mode, with its errors turned into UsageErrors a
 * person can read (decided by the error's code, not its text). A flag is never
 * taken as a positional: `docs-gen --help` is a request for help, not a file name.
 */
export function parseCommandArgs<O extends Options>(argv: string[], spec: ArgSpec<O>) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: spec.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }, spec.options));
  }
  const names = spec.positionals ?? [];
  const variadic = names.at(-1)?.startsWith('...') === true;
  if (!variadic && parsed.positionals.length > names.length) {
    const extra = parsed.positionals[names.length];
    throw new UsageError(names.length === 0 ? `takes no arguments, got "${extra}"` : `unexpected argument "${extra}" (takes ${names.join(', ')})`);
  }
  const required = spec.required ?? 0;
  if (parsed.positionals.length < required) throw new UsageError(`${names[parsed.positionals.length]?.replace(/^\.\.\./, '') ?? 'an argument'} is required`);
  return parsed;
}

function describeParseError(err: Error & { code?: string }, options: Options): string {
  const flag = /'(-[^' ]*)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option "${flag ?? '?'}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = flag?.replace(/^-+/, '').split(/[ =]/)[0] ?? '';
      const o = options[name] ?? Object.values(options).find((x) => x.short === name);
      return o?.type === 'boolean' ? `option "${flag}" takes no value` : `option "${flag}" needs a value`;
    }
    default:
      return err.message;
  }
}

/** A number argument: finite and within [min, max]; otherwise a UsageError naming the flag. */
export function numberArg(flag: string, value: string | undefined, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    const range = min > Number.NEGATIVE_INFINITY && max < Number.POSITIVE_INFINITY ? ` between ${min} and ${max}` : min > Number.NEGATIVE_INFINITY ? ` of at least ${min}` : '';
    throw new UsageError(`${flag} must be a number${range}, got "${value}"`);
  }
  return n;
}
