import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { crossFieldProblems, schemaProblem, type ConfigProblem } from './problems.js';
import { AgentConfig, type Config } from './schema.js';

const check = TypeCompiler.Compile(AgentConfig);

/**
 * Everything wrong with a configuration, found in one pass: `problems` lists
 * each with its path (e.g. /gps/baudRate), and the message names them all, so
 * a technician fixes the file once instead of once per restart.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    super(lines.length === 1 ? `${source}: ${lines[0]}` : `${source}: ${lines.length} problems:\n  ${lines.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Validates a parsed config object as a whole and fills defaults; throws one ConfigError listing every problem. */
export function resolveConfig(raw: unknown, source = 'config'): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(source, [{ path: '(root)', message: 'must be a JSON object' }]);
  const withDefaults = Value.Default(AgentConfig, structuredClone(raw)) as Record<string, unknown>;
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of check.Errors(withDefaults)) {
    // One line per field: a union reports itself and may repeat the path.
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    problems.push(schemaProblem(e));
  }
  problems.push(...crossFieldProblems(withDefaults).filter((p) => !seen.has(p.path)));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return withDefaults as Config;
}

/** Reads and validates a JSON config file. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file (give another with --config FILE)' : code === 'EACCES' ? `not readable by this user (uid ${process.getuid?.() ?? '?'})` : (err as Error).message;
    throw new ConfigError(path, [{ path: '(file)', message: `cannot read the config: ${why}` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [{ path: '(file)', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  return resolveConfig(raw, path);
}

/** Writes a config atomically (temp file, fsync, rename, fsync dir) so power loss leaves the old or the new one. */
export async function saveConfig(path: string, raw: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(raw, null, 2)}\n`, 0o600);
}
