import { readFile } from 'node:fs/promises';
import type { Config } from '../config/index.js';
import type { SessionOptions } from './mqtt-session.js';

export type SessionBase = Omit<SessionOptions, 'will' | 'onConnect' | 'clientId' | 'logger' | 'wrapStream'>;

/** MQTT connection settings from the config, with secrets read from their files (never from the config itself). */
export async function sessionFromConfig(config: Config): Promise<SessionBase> {
  const m = config.mqtt;
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
