import { execFile, spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChunkRecord, Manifest } from '../../protocol/media.js';
import { cliPath } from '../../simulator/agent-process.js';
import type { SimDevice } from '../../simulator/camera/index.js';
import type { World } from '../../simulator/world.js';
import { nextStored } from './wait.js';
import { requireTool } from './tools.js';

/*
 * Helpers for the evidence tests: reading what the ingest stored, probing it
 * with the real ffprobe, running `nrec verify` as a child process, and
 * finding the agent's ffmpeg.
 */

/** One session as the ingest stored it under <store>/evidence/<device>/<session>/. */
export interface StoredSession {
  deviceId: string;
  sessionId: string;
  dir: string;
  /** chain.ndjson, in file order. */
  chain: ChunkRecord[];
  manifest: Manifest | undefined;
  /** chunk-*.ts file names, sorted. */
  files: string[];
}

/** Every stored session of one device, read synchronously (usable inside `waitFor`). */
export function storedSessions(storeDir: string, deviceId: string): StoredSession[] {
  const root = join(storeDir, 'evidence', deviceId);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => storedSession(storeDir, deviceId, e.name));
}

/** One stored session (empty chain and no manifest when nothing arrived). */
export function storedSession(storeDir: string, deviceId: string, sessionId: string): StoredSession {
  const dir = join(storeDir, 'evidence', deviceId, sessionId);
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  const chainText = read('chain.ndjson') ?? '';
  const chain = chainText.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ChunkRecord);
  const m = read('manifest.json');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^chunk-\d+\.ts$/.test(f)).sort() : [];
  return { deviceId, sessionId, dir, chain, manifest: m === undefined ? undefined : (JSON.parse(m) as Manifest), files };
}

export interface ProbeResult {
  ok: boolean;
  durationS: number;
  /** Video frames counted by demuxing the whole file (0 for audio only). */
  videoFrames: number;
  error: string;
}

/** Runs ffprobe on a media file: its duration and how many video packets it holds; `ok` false with ffprobe's reason when it cannot read it. */
export function probe(path: string): Promise<ProbeResult> {
  const ffprobe = requireTool('ffprobe');
  const args = ['-v', 'error', '-count_packets', '-show_entries', 'format=duration:stream=codec_type,nb_read_packets', '-of', 'json', path];
  return new Promise((resolve) => {
    execFile(ffprobe, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) return resolve({ ok: false, durationS: 0, videoFrames: 0, error: stderr.trim() || err.message });
      const j = JSON.parse(stdout) as { format?: { duration?: string }; streams?: Array<{ codec_type?: string; nb_read_packets?: string }> };
      const durationS = Number(j.format?.duration);
      const videoFrames = Number(j.streams?.find((s) => s.codec_type === 'video')?.nb_read_packets ?? 0);
      const ok = Number.isFinite(durationS) && durationS > 0 && stderr.trim() === '';
      resolve({ ok, durationS, videoFrames, error: ok ? '' : stderr.trim() || `ffprobe found no duration in ${path}` });
    });
  });
}

/** Joins TS chunks with ffmpeg's concat demuxer (stream copy, timestamps made continuous) into `out` and probes the result. */
export async function concatAndProbe(paths: string[], out: string): Promise<ProbeResult> {
  const ffmpeg = requireTool('ffmpeg');
  const list = `${out}.txt`;
  await writeFile(list, paths.map((p) => `file '${p.replaceAll("'", "'\\''")}'\n`).join(''));
  await new Promise<void>((resolve, reject) => {
    execFile(ffmpeg, ['-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', '-f', 'mpegts', out], { timeout: 60_000 }, (err, _o, stderr) => {
      if (err !== null) reject(new Error(`ffmpeg concat of ${paths.length} chunks failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
  return probe(out);
}

/** `nrec verify <store>` as a child process: its exit code and everything it printed. */
export function runVerify(storeDir: string, extra: string[] = []): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), 'verify', storeDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Pids of the direct children of `parentPid` whose command name is `comm` (from /proc). */
export function childPids(parentPid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid …; comm may hold spaces or parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === parentPid && name === comm) out.push(Number(d));
  }
  return out;
}

/** The provisioned device identity (its real private key from the agent's data dir), to sign chunks as the device would. */
export function deviceSigner(world: World): SimDevice {
  const dir = join(String(world.agentConfig.dataDir), 'keys');
  const privateKey = createPrivateKey(readFileSync(join(dir, 'device-key.pem'), 'utf8'));
  const publicKey = createPublicKey(privateKey);
  return { deviceId: world.deviceId, privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export interface CommandAnswer {
  requestId: string;
  status: string;
  reason?: string;
  result?: Record<string, unknown>;
}

/** Sends a command through the ingest and resolves with the device's stored answer. */
export async function command(world: World, name: string, args: Record<string, unknown> = {}): Promise<CommandAnswer> {
  const id = `t-${name.replaceAll('.', '_')}-${Math.random().toString(36).slice(2, 10)}`;
  const answered = nextStored<CommandAnswer>(world.ingest, 'result', (r) => r.requestId === id, 30_000);
  await world.ingest.sendCommand(world.deviceId, name, args, 60_000, id);
  return answered;
}

/** Sum of the chunks' signed durations, in seconds. */
export function signedSeconds(records: ReadonlyArray<{ meta: { durationS: number } }>): number {
  return records.reduce((s, r) => s + r.meta.durationS, 0);
}
