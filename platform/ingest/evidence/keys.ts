import { createPublicKey, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Registered device public keys. */
export interface KeyRing {
  get(deviceId: string): KeyObject | undefined;
  /** Where the keys came from, for reports. */
  readonly source: string;
}

/** A key ring from a map of deviceId → public key. */
export function keyRingFromMap(keys: Map<string, KeyObject>, source = 'memory'): KeyRing {
  return { get: (id) => keys.get(id), source };
}

/**
 * Loads keys from a directory of `<deviceId>.pem` (or `<deviceId>.pub.pem`)
 * SPKI files, or one PEM file that then stands for every device.
 */
export async function loadKeyRing(dirOrFile: string): Promise<KeyRing> {
  const st = await stat(dirOrFile).catch(() => undefined);
  if (st === undefined) throw new Error(`keys ${dirOrFile} do not exist`);
  if (st.isFile()) {
    const key = parsePem(dirOrFile, await readFile(dirOrFile, 'utf8'));
    return { get: () => key, source: `${dirOrFile} (one key for every device)` };
  }
  const keys = new Map<string, KeyObject>();
  for (const f of await readdir(dirOrFile)) {
    const m = /^([A-Za-z0-9_-]{1,64})(?:\.pub)?\.pem$/.exec(basename(f));
    if (m === null) continue;
    keys.set(m[1], parsePem(join(dirOrFile, f), await readFile(join(dirOrFile, f), 'utf8')));
  }
  return keyRingFromMap(keys, `${dirOrFile} (${keys.size} device key${keys.size === 1 ? '' : 's'})`);
}

/** Parses an Ed25519 public key (a private key PEM is refused: keys given to the platform must be public). */
export function parsePem(where: string, pem: string): KeyObject {
  if (pem.includes('PRIVATE KEY')) throw new Error(`${where} holds a private key; give the platform only the public key`);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`${where} is not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${where} is a ${key.asymmetricKeyType} key, expected ed25519`);
  return key;
}
