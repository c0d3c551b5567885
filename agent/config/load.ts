import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { AgentConfig, type Config } from './schema.js';
import { deviceIdProblem } from '../../protocol/topics.js';

const check = TypeCompiler.Compile(AgentConfig);

/** A configuration problem, naming the path (e.g. /gps/baudRate) and the rule. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates a parsed config object and fills defaults; throws ConfigError naming the bad path. */
export function resolveConfig(raw: unknown, source = 'config'): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${source}: must be a JSON object`);
  const withDefaults = Value.Default(AgentConfig, structuredClone(raw));
  const first = check.Errors(withDefaults).First();
  if (first !== undefined) {
    const path = first.path === '' ? '(root)' : first.path;
    const shown = first.value === undefined ? '' : ` (got ${JSON.stringify(first.value)?.slice(0, 80)})`;
    // The device id pattern is unreadable as a regular expression; say which rule it breaks.
    const why = path === '/deviceId' && typeof first.value === 'string' ? deviceIdProblem(first.value) : undefined;
    throw new ConfigError(`${source}: ${path}: ${why ?? first.message}${shown}`);
  }
  return withDefaults as Config;
}

/** Reads and validates a JSON config file. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return resolveConfig(raw, path);
}

/** Writes a config atomically (temp file, fsync, rename, fsync dir) so power loss leaves the old or the new one. */
export async function saveConfig(path: string, raw: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(raw, null, 2)}\n`, 0o600);
}
