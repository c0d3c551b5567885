import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../agent/log/logger.js';
import { EvidenceIntake, EvidenceStore, type IntakeResult, type KeyRing } from './evidence/index.js';

/**
 * Device public keys registered with the platform: <keysDir>/<deviceId>.pem.
 * Re-read on a miss (at most every 2 s) so a device provisioned while the
 * ingest runs is picked up without a restart.
 */
export class DirKeyRing implements KeyRing {
  readonly source: string;
  readonly #dir: string;
  #keys = new Map<string, KeyObject>();
  #loadedAt = 0;

  constructor(dir: string) {
    this.#dir = dir;
    this.source = dir;
    mkdirSync(dir, { recursive: true });
    this.#load();
  }

  #load(): void {
    const keys = new Map<string, KeyObject>();
    for (const f of readdirSync(this.#dir)) {
      const m = /^([A-Za-z0-9_-]{1,64})(?:\.pub)?\.pem$/.exec(f);
      if (m === null) continue;
      const pem = readFileSync(join(this.#dir, f), 'utf8');
      if (pem.includes('PRIVATE KEY')) continue;
      try {
        keys.set(m[1], createPublicKey(pem));
      } catch {
        // A malformed key file is the operator's to fix; the device stays unknown until then.
      }
    }
    this.#keys = keys;
    this.#loadedAt = Date.now();
  }

  get(deviceId: string): KeyObject | undefined {
    const k = this.#keys.get(deviceId);
    if (k === undefined && Date.now() - this.#loadedAt > 2000) {
      this.#load();
      return this.#keys.get(deviceId);
    }
    return k;
  }
}

export interface MediaOutcome {
  acks: string[];
  stored: number;
  rejected: string[];
}

/** The ingest's evidence path over MQTT: chunk headers, binary parts and manifests in; acks out. */
export class MediaHandler {
  readonly intake: EvidenceIntake;
  readonly store: EvidenceStore;
  readonly #log: Logger;

  constructor(storeDir: string, logger: Logger, maxAssemblyBytes = 256 * 1024 * 1024) {
    this.store = new EvidenceStore(join(storeDir, 'evidence'));
    this.intake = new EvidenceIntake({ store: this.store, keys: new DirKeyRing(join(storeDir, 'keys')), maxAssemblyBytes });
    this.#log = logger;
  }

  /** Handles one message on nrec/v1/{device}/media/{sub}. */
  async handle(deviceId: string, sub: string | undefined, payload: Buffer): Promise<MediaOutcome> {
    let results: IntakeResult[];
    if (sub === 'part') {
      results = await this.intake.onPart(payload, deviceId);
    } else if (sub === 'chunk' || sub === 'manifest') {
      let json: unknown;
      try {
        json = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        return { acks: [], stored: 0, rejected: [`media/${sub}: payload is not JSON (${(err as Error).message})`] };
      }
      if (sub === 'chunk') {
        results = await this.intake.onHeader(json, deviceId);
      } else {
        const msg = json as { id?: unknown; manifest?: unknown; deviceId?: unknown };
        if (typeof msg.id !== 'string') return { acks: [], stored: 0, rejected: ['media/manifest: message has no id'] };
        if (msg.deviceId !== deviceId) return { acks: [], stored: 0, rejected: [`media/manifest: payload deviceId "${String(msg.deviceId)}" differs from topic device "${deviceId}"`] };
        results = [await this.intake.onManifest(msg.manifest, msg.id, deviceId)];
      }
    } else {
      return { acks: [], stored: 0, rejected: [`unknown media channel "${sub ?? ''}"`] };
    }
    const out: MediaOutcome = { acks: [], stored: 0, rejected: [] };
    for (const r of results) {
      if (r.kind === 'stored' || r.kind === 'manifest') {
        out.stored++;
        out.acks.push(r.ack);
        this.#log.info({ key: r.key, kind: r.kind }, 'evidence stored');
      } else if (r.kind === 'duplicate') {
        out.acks.push(r.ack);
      } else if (r.kind === 'rejected') {
        out.rejected.push(`${r.key ?? ''}: ${r.reason}`);
      } else if (r.kind === 'held') {
        this.#log.debug({ key: r.key, reason: r.reason }, 'evidence chunk held for its predecessor');
      }
    }
    return out;
  }
}
