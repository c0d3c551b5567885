import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { parseEncoderList, type VideoEncoder } from './capture-profiles.js';

export type ToolSource = 'config' | 'env' | 'path' | 'npm' | 'beside-ffmpeg';

/** A usable ffmpeg or ffprobe binary and where it came from. */
export interface ToolLocation {
  path: string;
  source: ToolSource;
  /** First line of `-version`. */
  version: string;
}

export interface LocateOptions {
  /** Path from the agent config; wins over everything, and an unusable one is an error. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Loads the optional npm package (`@ffmpeg-installer/ffmpeg`, `@ffprobe-installer/ffprobe`); injectable so tests can stand it in or out. */
  importInstaller?: () => Promise<unknown>;
}

const FFMPEG_INSTALLER = '@ffmpeg-installer/ffmpeg';
const FFPROBE_INSTALLER = '@ffprobe-installer/ffprobe';

/** Finds ffmpeg: config path, then FFMPEG_PATH, then PATH, then the optional npm package. */
export function locateFfmpeg(opts: LocateOptions = {}): Promise<ToolLocation> {
  return locateTool('ffmpeg', FFMPEG_INSTALLER, undefined, opts, 'set FFMPEG_PATH, or set media.ffmpegPath in the config');
}

/**
 * Finds ffprobe the same way: config path, then FFPROBE_PATH, then PATH, then
 * next to the ffmpeg in use, then the optional npm package (`@ffmpeg-installer/ffmpeg`
 * ships no ffprobe, so a fresh `npm install` without apt's ffmpeg needs this one).
 */
export function locateFfprobe(ffmpeg: ToolLocation, opts: LocateOptions = {}): Promise<ToolLocation> {
  return locateTool('ffprobe', FFPROBE_INSTALLER, join(dirname(ffmpeg.path), 'ffprobe'), opts, 'set FFPROBE_PATH, or set media.ffprobePath in the config');
}

async function locateTool(name: 'ffmpeg' | 'ffprobe', installer: string, beside: string | undefined, opts: LocateOptions, settings: string): Promise<ToolLocation> {
  const env = opts.env ?? process.env;
  const tried: string[] = [];
  const explicit = await explicitTool(name, opts.configPath, env[`${name.toUpperCase()}_PATH`]);
  if (explicit !== undefined) return explicit;
  const onPath = await searchPath(name, env.PATH ?? '', tried);
  if (onPath !== undefined) return { ...onPath, source: 'path' };
  if (beside !== undefined) {
    const version = (await isExecutable(beside)) ? await toolVersion(beside) : undefined;
    if (version !== undefined) return { path: beside, source: 'beside-ffmpeg', version };
    tried.push(beside);
  }
  try {
    // A variable specifier keeps the optional package out of static resolution: absent is fine.
    const mod = await (opts.importInstaller ?? (() => import(installer)))();
    const p = installerPath(mod);
    if (p !== undefined) {
      const version = await toolVersion(p);
      if (version !== undefined) return { path: p, source: 'npm', version };
      tried.push(`${p} (from ${installer}, does not run)`);
    }
  } catch {
    tried.push(`${installer} (not installed)`);
  }
  throw new Error(`${name} not found; tried ${tried.join(', ') || 'nothing'}. Install it (apt-get install ffmpeg), ${settings}`);
}

/** True when `path` runs and says it is ffmpeg (`ffmpeg version …`): `/bin/sh` or `bash` answer `-version` too. */
export async function isFfmpeg(path: string): Promise<boolean> {
  if (!(await isExecutable(path))) return false;
  const version = await toolVersion(path);
  return version !== undefined && isVersionOf('ffmpeg', version);
}

function isVersionOf(name: string, version: string): boolean {
  return version.startsWith(`${name} version`);
}

/** First line of `<tool> -version`, or undefined when it does not run. */
export function toolVersion(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(path, ['-version'], { timeout: 10_000 }, (err, stdout) => {
      if (err !== null) return resolve(undefined);
      resolve(stdout.split('\n')[0].trim());
    });
  });
}

/**
 * Picks the H.264 encoder: the Pi's hardware encoder when ffmpeg lists it and
 * it actually encodes (builds list it without the device), else libx264.
 */
export async function detectVideoEncoder(ffmpegPath: string): Promise<VideoEncoder> {
  const listing = await run(ffmpegPath, ['-hide_banner', '-encoders']);
  if (listing === undefined || !parseEncoderList(listing).has('h264_v4l2m2m')) return 'libx264';
  const trial = await run(ffmpegPath, [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-frames:v', '10',
    '-pix_fmt', 'yuv420p', '-c:v', 'h264_v4l2m2m', '-f', 'null', '-',
  ]);
  return trial === undefined ? 'libx264' : 'h264_v4l2m2m';
}

async function explicitTool(name: string, configPath: string | undefined, envPath: string | undefined): Promise<ToolLocation | undefined> {
  const candidates: Array<[string | undefined, ToolSource, string]> = [
    [configPath, 'config', `config path for ${name}`],
    [envPath, 'env', `${name.toUpperCase()}_PATH`],
  ];
  for (const [p, source, what] of candidates) {
    if (p === undefined || p === '') continue;
    const version = (await isExecutable(p)) ? await toolVersion(p) : undefined;
    if (version === undefined || !isVersionOf(name, version)) throw new Error(`${what} "${p}" is not a working ${name} (missing, not executable, -version failed, or it is another program: ${JSON.stringify(version?.slice(0, 60) ?? '')})`);
    return { path: p, source, version };
  }
  return undefined;
}

async function searchPath(name: string, pathVar: string, tried: string[]): Promise<Omit<ToolLocation, 'source'> | undefined> {
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    if (!(await isExecutable(p))) continue;
    const version = await toolVersion(p);
    if (version !== undefined && isVersionOf(name, version)) return { path: p, version };
    tried.push(`${p} (does not run, or is not ${name})`);
  }
  tried.push(`${name} on PATH`);
  return undefined;
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

function installerPath(mod: unknown): string | undefined {
  const pick = (m: unknown): string | undefined =>
    typeof m === 'object' && m !== null && 'path' in m && typeof m.path === 'string' ? m.path : undefined;
  return pick(mod) ?? (typeof mod === 'object' && mod !== null && 'default' in mod ? pick(mod.default) : undefined);
}

function run(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => resolve(err === null ? stdout : undefined));
  });
}
