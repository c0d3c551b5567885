import { readFile } from 'node:fs/promises';
import type { Config } from '../config/index.js';
import { ensurePrivateFile } from '../config/private-files.js';
import type { SessionOptions } from './mqtt-session.js';

export type SessionBase = Omit<SessionOptions, 'will' | 'onConnect' | 'clientId' | 'logger' | 'wrapStream'>;

/**
 * MQTT connection settings from the config, with secrets read from their files (never from the
 * config itself). The password and client key files must be 0600 (see private-files.ts): one the
 * agent owns is tightened and `onNote` hears of it; one it cannot tighten is refused.
 */
export async function sessionFromConfig(config: Config, onNote: (note: string) => void = () => undefined): Promise<SessionBase> {
  const m = config.mqtt;
  for (const [path, what] of [[m.passwordFile, 'MQTT password file (mqtt.passwordFile)'], [m.keyFile, 'MQTT client key file (mqtt.keyFile)']] as const) {
    if (path === undefined) continue;
    const note = await ensurePrivateFile(path, what);
    if (note !== undefined) onNote(note);
  }
  const opt = (p: string | undefined) => (p === undefined ? undefined : readFile(p));
  return {
    url: m.url,
    protocolVersion: m.protocolVersion,
    username: m.username,
    password: m.passwordFile ? (await readFile(m.passwordFile, 'utf8')).trim() : undefined,
    ca: await opt(m.caFile),
    cert: await opt(m.certFile),
    key: await opt(m.keyFile),
    keepaliveS: m.keepaliveS,
    backoffMinMs: m.backoffMinMs,
    backoffMaxMs: m.backoffMaxMs,
  };
}
