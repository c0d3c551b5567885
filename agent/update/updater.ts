import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File, verifyTree, type BundleManifest } from './bundle-format.js';
import { linkedVersion, pointLink, type Layout } from './layout.js';
import { unpackBundle } from './unpack.js';
import { HEALTHY_FILE, readJson, STATE_FILE, writeJson, type HealthyMarker, type UpdateState } from './update-state.js';

export interface UpdaterOptions {
  layout: Layout;
  publicKey: KeyObject;
  /** Restarts the agent service (systemctl restart nrec.service on a recorder). */
  restart: () => Promise<void>;
  /** How long a new release has to report itself healthy. */
  deadlineMs: number;
  /** Progress lines for the person or journal watching. */
  say: (line: string) => void;
  /** The architecture this device runs (process.arch). */
  arch?: string;
  pollMs?: number;
  /** Releases kept besides current and previous. */
  keep?: number;
  now?: () => number;
}

export class UpdateRefused extends Error {
  override readonly name = 'UpdateRefused';
}

/**
 * Installs a bundle as a new release under test, then commits it once the
 * agent reports itself healthy or switches back to the previous release by
 * itself when it does not within the deadline. The state file is written
 * before each step it describes, so an updater killed half-way (or a power
 * cut) is finished by `resume`, run at boot by nrec-update.service. The
 * outbox, keys and config live outside the releases and are never touched.
 */
export class Updater {
  readonly #o: UpdaterOptions;
  readonly #now: () => number;

  constructor(o: UpdaterOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  get #statePath(): string {
    return join(this.#o.layout.updateDir, STATE_FILE);
  }

  async state(): Promise<UpdateState | undefined> {
    return readJson<UpdateState>(this.#statePath);
  }

  /**
   * Checks and unpacks the bundle into releases/<version> without touching
   * `current`; throws UpdateRefused (nothing changed) for a bad hash, a bad
   * signature, another architecture, the running version or an update already
   * under test.
   */
  async stage(bundle: string, expectSha256?: string): Promise<BundleManifest> {
    const l = this.#o.layout;
    const st = await stat(bundle).catch(() => undefined);
    if (st === undefined || !st.isFile()) throw new UpdateRefused(`bundle ${bundle} not found`);
    if (expectSha256 !== undefined) {
      const got = await sha256File(bundle);
      if (got !== expectSha256.toLowerCase()) throw new UpdateRefused(`bundle SHA-256 is ${got}, expected ${expectSha256}: refusing it, nothing changed`);
    }
    const pending = await this.state();
    if (pending?.phase === 'testing') throw new UpdateRefused(`release ${pending.release} is still under test (until ${new Date(pending.deadlineAt).toISOString()}); wait for it, or run: install.sh --rollback`);
    await mkdir(l.releases, { recursive: true });
    let unpacked: { staging: string; tree: string };
    try {
      unpacked = await unpackBundle(bundle, l.releases);
    } catch (err) {
      throw new UpdateRefused(`${(err as Error).message}; nothing changed`);
    }
    try {
      let manifest: BundleManifest;
      try {
        manifest = await verifyTree(unpacked.tree, this.#o.publicKey);
      } catch (err) {
        throw new UpdateRefused(`${(err as Error).message}; nothing changed`);
      }
      const arch = this.#o.arch ?? process.arch;
      if (manifest.arch !== arch) throw new UpdateRefused(`bundle is built for ${manifest.arch}, this device is ${arch}: its native modules would not load; nothing changed`);
      const current = await linkedVersion(l.current);
      if (manifest.version === current) throw new UpdateRefused(`release ${manifest.version} is already the current one; nothing changed`);
      const target = join(l.releases, manifest.version);
      // A leftover of an earlier, rolled-back attempt at this version is replaced.
      if (manifest.version !== (await linkedVersion(l.previous))) await rm(target, { recursive: true, force: true });
      else throw new UpdateRefused(`release ${manifest.version} is the previous release; go back to it with: install.sh --rollback`);
      await rename(unpacked.tree, target);
      return manifest;
    } finally {
      await rm(unpacked.staging, { recursive: true, force: true });
    }
  }

  /** Stages the bundle, switches `current` to it and restarts the agent; the release is then under test. */
  async install(bundle: string, opts: { expectSha256?: string; requestId?: string } = {}): Promise<UpdateState> {
    const l = this.#o.layout;
    const manifest = await this.stage(bundle, opts.expectSha256);
    const previous = await linkedVersion(l.current);
    const startedAt = this.#now();
    const state: UpdateState = {
      id: randomBytes(6).toString('hex'),
      phase: 'testing',
      release: manifest.version,
      ...(previous === undefined ? {} : { previous }),
      startedAt,
      deadlineAt: startedAt + this.#o.deadlineMs,
      ...(opts.requestId === undefined ? {} : { requestId: opts.requestId }),
    };
    await writeJson(this.#statePath, state);
    if (previous !== undefined) await pointLink(l, l.previous, previous);
    await pointLink(l, l.current, manifest.version);
    this.#o.say(`release ${manifest.version} is current (was ${previous ?? 'none'}); restarting the agent; it has ${Math.round(this.#o.deadlineMs / 1000)} s to report itself healthy`);
    await this.#o.restart();
    return state;
  }

  /** Records an update refused before anything changed, so the agent reports it to the platform. */
  async recordRefusal(reason: string, requestId?: string): Promise<void> {
    const now = this.#now();
    await writeJson(this.#statePath, { id: randomBytes(6).toString('hex'), phase: 'refused', release: '?', startedAt: now, deadlineAt: now, finishedAt: now, reason, ...(requestId ? { requestId } : {}) } satisfies UpdateState);
  }

  /** Waits for the release under test to report itself healthy; commits it, or rolls back at the deadline. */
  async watch(): Promise<UpdateState> {
    let state = await this.state();
    if (state === undefined || state.phase !== 'testing') throw new Error('no update under test');
    const l = this.#o.layout;
    if ((await linkedVersion(l.current)) !== state.release) {
      // The updater stopped between writing the state and switching: nothing to test.
      return this.#finish(state, 'rolled-back', 'the updater was interrupted before the switch', false);
    }
    const dir = await realpath(join(l.releases, state.release));
    for (;;) {
      const marker = await readJson<HealthyMarker>(join(l.updateDir, HEALTHY_FILE));
      if (marker !== undefined && marker.releaseDir === dir && marker.at >= state.startedAt) {
        state = await this.#finish(state, 'committed');
        this.#o.say(`release ${state.release} reported healthy: committed`);
        await this.prune();
        return state;
      }
      const left = state.deadlineAt - this.#now();
      if (left <= 0) {
        const reason = `release ${state.release} did not report itself healthy (connected, GPS and button up) within ${Math.round((state.deadlineAt - state.startedAt) / 1000)} s`;
        this.#o.say(`${reason}: rolling back to ${state.previous ?? '(none)'}`);
        return this.#finish(state, 'rolled-back', reason, true);
      }
      await new Promise((r) => setTimeout(r, Math.min(left, this.#o.pollMs ?? 500)));
    }
  }

  async #finish(state: UpdateState, phase: 'committed' | 'rolled-back', reason?: string, switchBack = false): Promise<UpdateState> {
    const l = this.#o.layout;
    if (phase === 'rolled-back' && switchBack) {
      if (state.previous === undefined) throw new Error(`release ${state.release} failed and there is no previous release to return to`);
      await pointLink(l, l.current, state.previous);
    }
    const next: UpdateState = { ...state, phase, finishedAt: this.#now(), ...(reason === undefined ? {} : { reason }) };
    await writeJson(this.#statePath, next);
    if (phase === 'rolled-back' && switchBack) {
      await this.#o.restart();
      await rm(join(l.releases, state.release), { recursive: true, force: true });
    }
    return next;
  }

  /** Finishes whatever a previous run left under test (run at boot). */
  async resume(): Promise<UpdateState | undefined> {
    const s = await this.state();
    if (s?.phase !== 'testing') return s;
    this.#o.say(`resuming the test of release ${s.release}`);
    return this.watch();
  }

  /** Removes releases other than current and previous, keeping the newest `keep` extra. */
  async prune(): Promise<void> {
    const l = this.#o.layout;
    const keepSet = new Set([await linkedVersion(l.current), await linkedVersion(l.previous)]);
    const others: Array<{ name: string; mtime: number }> = [];
    for (const name of await readdir(l.releases)) {
      if (keepSet.has(name) || name.startsWith('.')) continue;
      others.push({ name, mtime: (await stat(join(l.releases, name))).mtimeMs });
    }
    others.sort((a, b) => b.mtime - a.mtime);
    for (const o of others.slice(this.#o.keep ?? 0)) await rm(join(l.releases, o.name), { recursive: true, force: true });
  }
}
