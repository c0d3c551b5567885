import type { Logger } from '../lib/logger.js';
import { ApiServer, type ApiOptions } from './api/server.js';
import { DEFAULT_SILENCE_MS } from './api/device-state.js';
import { LiveFeed } from './api/live-feed.js';
import { StreamHub } from './api/stream-hub.js';
import { Ingest, type IngestOptions } from './ingest/index.js';
import { openServices, type PlatformServices } from './services.js';
import { openStore, type PlatformStore } from './store/index.js';
import { join } from 'node:path';

/*
 * The platform process: one store, the ingest, the alarm desk and command
 * sender (services.ts), and, with `http`, the API and its live stream, in
 * one process a service manager watches. Started in dependency order and
 * stopped in reverse.
 */

export interface PlatformOptions extends Omit<IngestOptions, 'store'> {
  /** The store URL (default SQLite at <storeDir>/platform.db). */
  db?: string;
  /** Serve the API here. */
  http?: { host: string; port: number } & ApiOptions;
  contactsFile?: string;
  now?: () => number;
}

export class Platform {
  readonly store: PlatformStore;
  readonly ingest: Ingest;
  readonly services: PlatformServices;
  readonly hub: StreamHub;
  readonly api: ApiServer | undefined;
  readonly #feed: LiveFeed;

  private constructor(p: { store: PlatformStore; ingest: Ingest; services: PlatformServices; hub: StreamHub; feed: LiveFeed; api?: ApiServer }) {
    this.store = p.store;
    this.ingest = p.ingest;
    this.services = p.services;
    this.hub = p.hub;
    this.#feed = p.feed;
    this.api = p.api;
  }

  /**
   * Opens the store, builds the ingest and the services, starts the API (it
   * answers from the store even while the broker is away), then starts the
   * ingest without waiting for the broker. Anything that fails on the way is
   * closed again before the error is thrown.
   */
  static async start(o: PlatformOptions): Promise<Platform> {
    const store = await openStore(o.db ?? join(o.storeDir, 'platform.db'), { logger: o.logger, now: o.now });
    const ingest = new Ingest({ ...o, store });
    const undo: Array<() => Promise<unknown>> = [() => store.close()];
    try {
      const services = await openServices({ store, ingest, logger: o.logger, contactsFile: o.contactsFile, now: o.now });
      undo.push(() => services.close());
      const hub = new StreamHub({ now: o.now });
      const silenceMs = o.http?.silenceMs ?? DEFAULT_SILENCE_MS;
      // Silence is noticed within a quarter of the limit (at most every 5 s).
      const sweepMs = Math.min(5000, Math.max(250, Math.floor(silenceMs / 4)));
      const feed = new LiveFeed({ hub, ingest, desk: services.desk, store, logger: o.logger, silenceMs, sweepMs, now: o.now });
      await feed.start();
      undo.push(async () => feed.stop());
      let api: ApiServer | undefined;
      if (o.http !== undefined) {
        api = await ApiServer.start({
          store, desk: services.desk, commands: services.commands, hub, logger: o.logger, now: o.now,
          keysDir: join(o.storeDir, 'keys'), deviceNames: () => services.deviceNames(),
        }, o.http);
        undo.push(() => api!.close());
        const tokens = await store.tokens();
        const t = (o.now ?? Date.now)();
        if (!tokens.some((k) => k.revokedAt === undefined && (k.expiresAt === undefined || k.expiresAt > t))) {
          o.logger.warn({ db: store.location }, 'the API has no valid token yet: create one with nrec token create --role admin --name NAME against the same --db');
        }
        o.logger.info({ url: api.url }, 'API listening');
      }
      await ingest.start({ wait: false });
      return new Platform({ store, ingest, services, hub, feed, api });
    } catch (err) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.api?.close();
    this.#feed.stop();
    await this.services.close();
    // Stops the broker connection and closes the store.
    await this.ingest.stop();
  }
}
