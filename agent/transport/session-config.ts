import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config/index.js';
import { ensurePrivateFile } from '../config/private-files.js';
import type { SessionOptions } from './mqtt-session.js';

export type SessionBase = Omit<SessionOptions, 'will' | 'onConnect' | 'clientId' | 'logger' | 'wrapStream'>;

/**
 * MQTT connection settings from the config, with secrets read from their files (never from the
 * config itself). The password and client key files must be 0600 (see private-files.ts): one the
 * agent owns is tightened and `onNote` hears of it; one it cannot tighten is refused. A file that
 * cannot be read, or TLS material that does not load, throws naming the config field: the agent
 * cannot do its job with it and says so at start instead of failing every reconnect.
 */
export async function sessionFromConfig(config: Config, onNote: (note: string) => void = () => undefined, o: { checkModes?: boolean } = {}): Promise<SessionBase> {
  const m = config.mqtt;
  // `checkModes: false` for a look that must change nothing (nrec doctor reports the modes itself).
  for (const [path, what] of [[m.passwordFile, 'MQTT password file (mqtt.passwordFile)'], [m.keyFile, 'MQTT client key file (mqtt.keyFile)']] as const) {
    if (path === undefined || o.checkModes === false) continue;
    const note = await ensurePrivateFile(path, what);
    if (note !== undefined) onNote(note);
  }
  const read = async (field: string, p: string | undefined): Promise<Buffer | undefined> => {
    if (p === undefined) return undefined;
    try {
      return await readFile(p);
    } catch (err) {
      throw new Error(`mqtt.${field}: cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const password = await read('passwordFile', m.passwordFile);
  const ca = await read('caFile', m.caFile);
  const cert = await read('certFile', m.certFile);
  const key = await read('keyFile', m.keyFile);
  loads('caFile', () => createSecureContext({ ca }), ca !== undefined, 'is it a PEM certificate?');
  loads('certFile/keyFile', () => createSecureContext({ cert, key }), cert !== undefined || key !== undefined, 'are both PEM, and does the key belong to the certificate?');
  return {
    url: m.url,
    protocolVersion: m.protocolVersion,
    username: m.username,
    password: password?.toString('utf8').trim(),
    ca,
    cert,
    key,
    keepaliveS: m.keepaliveS,
    backoffMinMs: m.backoffMinMs,
    backoffMaxMs: m.backoffMaxMs,
  };
}

function loads(fields: string, load: () => unknown, present: boolean, hint: string): void {
  if (!present) return;
  try {
    load();
  } catch (err) {
    throw new Error(`mqtt.${fields}: does not load as TLS material (${(err as Error).message}); ${hint}`);
  }
}
