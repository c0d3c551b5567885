import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { ReleaseInfo } from '../service/release.js';
import { HEALTHY_FILE, writeJson, type HealthyMarker } from './update-state.js';

export interface HealthCommitOptions {
  updateDir: string;
  release: ReleaseInfo;
  logger: Logger;
  /** Names what is not up yet (e.g. "mqtt not connected"), or undefined when the agent is healthy. */
  notHealthy: () => string | undefined;
  pollMs?: number;
}

/**
 * Tells the updater "this release works": once the agent is connected and its
 * GPS and button services are up, it writes healthy.json naming its release
 * directory, once per start. The updater holds a new release in testing until
 * this marker appears for it, and rolls back when it does not in time.
 */
export class HealthCommit {
  readonly #o: HealthCommitOptions;
  #timer: NodeJS.Timeout | undefined;
  #done = false;
  #lastReason: string | undefined;

  constructor(o: HealthCommitOptions) {
    this.#o = o;
  }

  start(): void {
    const tick = (): void => {
      void this.#check().finally(() => {
        if (!this.#done) this.#timer = setTimeout(tick, this.#o.pollMs ?? 1000);
      });
    };
    tick();
  }

  async #check(): Promise<void> {
    const reason = this.#o.notHealthy();
    if (reason !== undefined) {
      if (reason !== this.#lastReason) this.#o.logger.debug({ reason }, 'not yet healthy');
      this.#lastReason = reason;
      return;
    }
    const marker: HealthyMarker = { releaseDir: this.#o.release.dir, version: this.#o.release.version, pid: process.pid, at: Date.now() };
    try {
      await writeJson(join(this.#o.updateDir, HEALTHY_FILE), marker);
      this.#done = true;
      this.#o.logger.info({ version: marker.version }, 'agent healthy: connected, GPS and button up');
    } catch (err) {
      this.#o.logger.warn({ err: (err as Error).message }, 'cannot record health for the updater; retrying');
    }
  }

  stop(): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}
