import { readFile } from 'node:fs/promises';
import { resolveConfig, saveConfig, type Config } from '../config/index.js';
import { readPending, writePending } from '../config/commit-confirm.js';
import { preflightConfig } from '../config/preflight.js';
import { CONFIRM_DEADLINE_S, dangerousKeys, flattenKeys, mergePatch, redactUrlCredentials, restartKeys } from '../config/remote-change.js';
import type { CommandRegistry } from './command-registry.js';

export interface BuiltinDeps {
  configPath: string;
  /** Applies a validated config live; returns nothing. */
  applyConfig: (next: Config) => void;
  /** Publishes the current fix now; resolves with what was sent (or why nothing could be). */
  locate: () => Promise<unknown>;
  /** Restarts the agent with the configuration on disk (a commit-confirmed change is applied this way). */
  requestRestart: (why: string) => void;
  startedAt: number;
}

/** Commands that set or read a state: run again after a restart that interrupted them. */
const SAFE = { replaySafe: true };

/** Registers ping, locate, config.get and config.set. */
export function registerBuiltins(reg: CommandRegistry, deps: BuiltinDeps): void {
  reg.register('ping', () => ({ result: { pong: true, uptimeS: Math.round((Date.now() - deps.startedAt) / 1000) } }), SAFE);
  reg.register('locate', async () => ({ result: await deps.locate() }), SAFE);
  reg.register('config.get', async () => {
    const raw: unknown = JSON.parse(await readFile(deps.configPath, 'utf8'));
    // The config holds paths to secrets (passwordFile, keyFile), never the secrets themselves; a URL may still carry user:password@.
    const c = resolveConfig(raw, deps.configPath);
    return { result: { ...c, mqtt: { ...c.mqtt, url: redactUrlCredentials(c.mqtt.url) } } };
  }, SAFE);
  reg.register('config.set', async (args, request) => {
    const patch = args.patch;
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return { status: 'error', reason: 'args.patch must be an object of config fields to change' };
    const waiting = await readPending(deps.configPath);
    if (waiting !== undefined) {
      return { status: 'refused', reason: `configuration change ${waiting.requestId} (${waiting.changed.join(', ')}) is ${waiting.phase === 'pending' ? `waiting for confirmation until ${new Date(waiting.deadlineAt).toISOString()}` : 'being reported'}; send this one after it is committed or rolled back` };
    }
    const raw = JSON.parse(await readFile(deps.configPath, 'utf8')) as Record<string, unknown>;
    const nextRaw = mergePatch(raw, patch as Record<string, unknown>);
    const changed = flattenKeys(patch);
    // Refused before anything else: a change that can cut the device off is not taken remotely without confirm, valid or not.
    const danger = dangerousKeys(changed);
    if (danger.length > 0 && args.confirm !== true) {
      return {
        status: 'refused',
        reason: `${danger.join(', ')} can cut the device off or silence it: refused without args.confirm: true; with it the change is applied commit-confirmed ` +
          `(the agent restarts with it and restores the previous configuration unless it is connected and healthy within args.deadlineS, default ${CONFIRM_DEADLINE_S.default} s)`,
      };
    }
    let next: Config;
    try {
      next = resolveConfig(nextRaw, 'patched config');
    } catch (err) {
      return { status: 'error', reason: (err as Error).message };
    }
    const problems = await preflightConfig(next, changed);
    if (problems.length > 0) return { status: 'error', reason: `the changed configuration would not work on this device: ${problems.join('; ')}` };
    if (danger.length === 0) {
      await saveConfig(deps.configPath, nextRaw);
      const needsRestart = restartKeys(changed);
      deps.applyConfig(next);
      return { result: { changed, applied: changed.filter((k) => !needsRestart.includes(k)), pendingRestart: needsRestart }, restartRequired: needsRestart.length > 0 };
    }
    const deadlineS = args.deadlineS ?? CONFIRM_DEADLINE_S.default;
    if (typeof deadlineS !== 'number' || !Number.isFinite(deadlineS) || deadlineS < CONFIRM_DEADLINE_S.min || deadlineS > CONFIRM_DEADLINE_S.max) {
      return { status: 'error', reason: `args.deadlineS must be a number of seconds in [${CONFIRM_DEADLINE_S.min}, ${CONFIRM_DEADLINE_S.max}]` };
    }
    // The previous config is kept (durably, first) before the new one is written; see commit-confirm.ts.
    const now = Date.now();
    await writePending(deps.configPath, { v: 1, requestId: request.id, name: request.name, changed, previous: raw, next: nextRaw, appliedAt: now, deadlineAt: now + deadlineS * 1000, boots: 0, phase: 'pending' });
    await saveConfig(deps.configPath, nextRaw);
    // After the registry has marked the request deferred: answered once the change is committed or rolled back.
    setImmediate(() => deps.requestRestart(`config.set ${request.id}: ${danger.join(', ')} (commit-confirmed within ${deadlineS} s)`));
    return { deferred: true };
  });
}

