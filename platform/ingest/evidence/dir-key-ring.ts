import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyRing } from './keys.js';

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
