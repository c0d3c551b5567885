import { readFile } from 'node:fs/promises';
import { resolveConfig, saveConfig, type Config } from '../config/index.js';
import type { CommandRegistry } from './command-registry.js';

/** Config keys that take effect without a restart (prefix match); everything else reports restartRequired. */
const LIVE_KEYS = ['logLevel', 'gps.intervalS', 'gps.displacementM', 'gps.stationaryIntervalS', 'gps.visitIntervalS', 'gps.sosBurstS', 'health.intervalS'];

export interface BuiltinDeps {
  configPath: string;
  /** Applies a validated config live; returns nothing. */
  applyConfig: (next: Config) => void;
  /** Publishes the current fix now; resolves with what was sent (or why nothing could be). */
  locate: () => Promise<unknown>;
  startedAt: number;
}

function flatten(obj: unknown, prefix = ''): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [prefix];
  return Object.entries(obj).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

function merge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Commands that set or read a state: run again after a restart that interrupted them. */
const SAFE = { replaySafe: true };

/** Registers ping, locate, config.get and config.set. */
export function registerBuiltins(reg: CommandRegistry, deps: BuiltinDeps): void {
  reg.register('ping', () => ({ result: { pong: true, uptimeS: Math.round((Date.now() - deps.startedAt) / 1000) } }), SAFE);
  reg.register('locate', async () => ({ result: await deps.locate() }), SAFE);
  reg.register('config.get', async () => {
    const raw: unknown = JSON.parse(await readFile(deps.configPath, 'utf8'));
    // The config holds paths to secrets (passwordFile, keyFile), never the secrets themselves.
    return { result: resolveConfig(raw, deps.configPath) };
  });
  reg.register('config.set', async (args) => {
    const patch = args.patch;
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return { status: 'error', reason: 'args.patch must be an object of config fields to change' };
    if ('deviceId' in patch) return { status: 'refused', reason: 'deviceId cannot be changed remotely' };
    const raw = JSON.parse(await readFile(deps.configPath, 'utf8')) as Record<string, unknown>;
    const nextRaw = merge(raw, patch as Record<string, unknown>);
    let next: Config;
    try {
      next = resolveConfig(nextRaw, 'patched config');
    } catch (err) {
      return { status: 'error', reason: (err as Error).message };
    }
    await saveConfig(deps.configPath, nextRaw);
    const changed = flatten(patch);
    const needsRestart = changed.filter((k) => !LIVE_KEYS.some((live) => k === live || k.startsWith(`${live}.`)));
    deps.applyConfig(next);
    return { result: { changed, applied: changed.filter((k) => !needsRestart.includes(k)), pendingRestart: needsRestart }, restartRequired: needsRestart.length > 0 };
  });
}
