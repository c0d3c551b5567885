import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { isFfmpeg } from '../media/ffmpeg-locate.js';
import type { Config } from './schema.js';

const BROKER_SCHEMES = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:'];

/**
 * Checks a config that came over the air against this device, beyond the schema (and its
 * cross-field rules, resolveConfig's job): what the agent needs at its next start must be there.
 * Only the settings in `changed` (dotted keys) are checked, so a harmless patch is not refused for
 * something that was already so. Returns the problems, each naming the setting; empty when fine.
 */
export async function preflightConfig(next: Config, changed: readonly string[]): Promise<string[]> {
  const touched = (prefix: string) => changed.some((k) => k === prefix || k.startsWith(`${prefix}.`) || prefix.startsWith(`${k}.`));
  const problems: string[] = [];
  if (touched('mqtt.url')) {
    const p = brokerUrlProblem(next.mqtt.url);
    if (p !== undefined) problems.push(`mqtt.url: ${p}`);
  }
  const files: Array<[keyof Config['mqtt'], boolean]> = [['passwordFile', true], ['keyFile', true], ['caFile', false], ['certFile', false]];
  for (const [key, secret] of files) {
    const path = next.mqtt[key];
    if (!touched(`mqtt.${key}`) || typeof path !== 'string') continue;
    const p = await readableFileProblem(path, secret);
    if (p !== undefined) problems.push(`mqtt.${key}: ${p}`);
  }
  if (touched('media.ffmpegPath') && next.media.ffmpegPath !== undefined) {
    const p = next.media.ffmpegPath;
    if (!isAbsolute(p)) problems.push(`media.ffmpegPath: "${p}" must be an absolute path`);
    else if (!(await isFfmpeg(p))) problems.push(`media.ffmpegPath: "${p}" is not a working ffmpeg (\`${p} -version\` must print "ffmpeg version …")`);
  }
  if (touched('button.toolsDir') && next.button.toolsDir !== undefined && next.button.backend === 'gpiod') {
    const gpiomon = join(next.button.toolsDir, 'gpiomon');
    if (!(await isExecutableFile(gpiomon))) problems.push(`button.toolsDir: ${gpiomon} is not an executable file (the gpiod backend runs gpiomon from there)`);
  }
  if (touched('dataDir')) {
    const p = await writableDirProblem(next.dataDir);
    if (p !== undefined) problems.push(`dataDir: ${p}`);
  }
  return problems;
}

/** Why `url` cannot reach a broker, or undefined. */
export function brokerUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL (expected e.g. mqtts://broker.example:8883)';
  }
  if (!BROKER_SCHEMES.includes(u.protocol)) return `scheme "${u.protocol}" is not one of ${BROKER_SCHEMES.join(', ')}`;
  if (u.hostname === '') return 'has no host';
  if (u.port !== '' && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) return `port ${u.port} is out of range`;
  return undefined;
}

async function readableFileProblem(path: string, secret: boolean): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return `${path} is not a regular file`;
    await access(path, constants.R_OK);
    if (secret && (st.mode & 0o077) !== 0) return `${path} has mode 0${(st.mode & 0o777).toString(8)}; a secret must be 0600 (chmod 600 ${path})`;
    return undefined;
  } catch (err) {
    return `${path} cannot be read: ${(err as Error).message}`;
  }
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function writableDirProblem(dir: string): Promise<string | undefined> {
  if (!isAbsolute(dir)) return `"${dir}" must be an absolute path`;
  // It may not exist yet (the agent creates it); then its nearest existing parent must be writable.
  for (let d = dir; ; d = dirname(d)) {
    try {
      const st = await stat(d);
      if (!st.isDirectory()) return `${d} is not a directory`;
      await access(d, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${d} is not writable: ${(err as Error).message}`;
      if (dirname(d) === d) return `no part of ${dir} exists`;
    }
  }
}
