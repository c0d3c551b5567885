import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import type { Fix } from '../../protocol/index.js';
import type { Gap } from '../../protocol/media.js';
import { chunkIndexOf, type CapturePlan } from './capture-profiles.js';
import { salvage, QUARANTINE_DIR, type SalvageResult } from './salvage.js';
import { SegmentListParser, type SegmentEntry } from './segment-list.js';
import { forgetCaptureProcesses, noteCaptureProcesses, reapStaleCapture } from './stale-capture.js';

/** A finished chunk file. Times are epoch ms: the run's wall-clock start plus the segment list's offsets. */
export interface ChunkEvent {
  path: string;
  file: string;
  /** Global index from the file name; rises across ffmpeg restarts. */
  index: number;
  startTime: number;
  endTime: number;
  durationS: number;
  bytes: number;
  codec: string;
  salvaged?: boolean;
  /** Where the device was when the chunk started; the recorder leaves it to whoever knows (the media service). */
  position?: Fix;
}

export type RecorderState = 'idle' | 'starting' | 'running' | 'restarting' | 'fault' | 'stopping' | 'stopped';
export interface RecorderStatus {
  state: RecorderState;
  reason?: string;
}

export interface RecorderEvents {
  chunk: [ChunkEvent];
  gap: [Gap];
  status: [RecorderStatus];
  salvage: [SalvageResult];
  /** Something odd but survivable (an unreadable list line, a failed salvage). */
  warning: [string];
}

export interface RecorderOptions {
  chunkDir: string;
  /** Builds the commands for one run; `startNumber` is the first chunk index of that run. */
  plan: (startNumber: number) => CapturePlan;
  ffprobePath: string;
  now?: () => number;
  /** Restart delay after a crash: doubles from initialMs up to maxMs; a listed chunk resets it. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long a graceful stop may take before ffmpeg is killed. */
  stopTimeoutMs?: number;
  deviceExists?: (path: string) => boolean;
}

interface Run {
  procs: ChildProcess[];
  ffmpeg: ChildProcess;
  plan: CapturePlan;
  wallStart: number;
  lastEnd: number;
  chunks: number;
  stderrTail: string;
  /** Set when the supervisor killed a process because its partner died. */
  killedByUs: boolean;
  /** Chunk intake for this run, in list order. */
  intake: Promise<void>;
  closed: Promise<void>;
}

/**
 * Supervises ffmpeg: learns finished chunks from the segment list on its
 * stdout, restarts it with backoff when it dies (reporting the gap and
 * salvaging the chunk it was writing), reports a missing camera as a fault
 * instead of throwing, and stops it gracefully so the open chunk is closed.
 */
export class Recorder extends EventEmitter<RecorderEvents> {
  readonly #o: Required<Omit<RecorderOptions, 'backoff'>> & { backoff: { initialMs: number; maxMs: number } };
  readonly #known = new Set<string>();
  #nextIndex = 0;
  #run: Run | undefined;
  #state: RecorderState = 'idle';
  #delayMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Where the current outage began, when ffmpeg is down and a gap is owed. */
  #gapFrom: { at: number; reason: string } | undefined;

  constructor(opts: RecorderOptions) {
    super();
    this.#o = {
      now: Date.now,
      backoff: { initialMs: 500, maxMs: 30_000 },
      stopTimeoutMs: 10_000,
      deviceExists: existsSync,
      ...opts,
    };
    this.#delayMs = this.#o.backoff.initialMs;
  }

  get state(): RecorderState {
    return this.#state;
  }

  /** ffmpeg's pid while it runs. */
  get pid(): number | undefined {
    return this.#run?.ffmpeg.pid;
  }

  /**
   * Probes chunk files in the chunk dir that nobody knows about (`knownFiles`
   * are names the caller already holds): playable ones are emitted as chunks
   * with `salvaged: true`, the rest quarantined; every outcome is emitted and returned.
   */
  async salvage(knownFiles: Iterable<string> = []): Promise<SalvageResult[]> {
    for (const f of knownFiles) this.#known.add(f);
    await this.#reapStale();
    return this.#salvageUnlisted(undefined);
  }

  /** Creates the chunk dir, picks the next free index and starts capturing. */
  async start(): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'stopped') throw new Error(`recorder is ${this.#state}; start() needs it idle or stopped`);
    await mkdir(this.#o.chunkDir, { recursive: true });
    await this.#reapStale();
    this.#nextIndex = Math.max(this.#nextIndex, await this.#highestIndex() + 1);
    this.#delayMs = this.#o.backoff.initialMs;
    this.#setState('starting');
    this.#launch();
  }

  /** Stops capture: `q` to ffmpeg (or SIGINT to the camera source), waits for the last chunk to be listed. */
  async stop(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const run = this.#run;
    if (run === undefined) {
      this.#setState('stopped');
      return;
    }
    this.#setState('stopping');
    if (run.plan.gracefulStop === 'sigint-source' && run.procs.length > 1) run.procs[0].kill('SIGINT');
    else run.ffmpeg.stdin?.end('q');
    const killer = setTimeout(() => {
      this.emit('warning', `ffmpeg did not stop within ${this.#o.stopTimeoutMs} ms; killing it`);
      for (const p of run.procs) p.kill('SIGKILL');
    }, this.#o.stopTimeoutMs);
    await run.closed;
    clearTimeout(killer);
  }

  /** Kills capture processes a crashed agent left writing into the chunk dir, before anything reads or numbers its files. */
  async #reapStale(): Promise<void> {
    const killed = await reapStaleCapture(this.#o.chunkDir);
    if (killed.length > 0) this.emit('warning', `killed capture processes ${killed.join(', ')} left running by a previous agent`);
  }

  #setState(state: RecorderState, reason?: string): void {
    this.#state = state;
    this.emit('status', reason === undefined ? { state } : { state, reason });
  }

  #launch(): void {
    this.#retryTimer = undefined;
    const startNumber = this.#nextIndex;
    const plan = this.#o.plan(startNumber);
    const missing = plan.devices.filter((d) => !this.#o.deviceExists(d));
    if (missing.length > 0) {
      const reason = `camera ${missing.join(', ')} not present`;
      this.#gapFrom ??= { at: this.#o.now(), reason };
      this.#setState('fault', reason);
      this.#scheduleRetry();
      return;
    }
    const wallStart = this.#o.now();
    if (this.#gapFrom !== undefined) {
      this.emit('gap', { from: this.#gapFrom.at, to: wallStart, reason: this.#gapFrom.reason });
      this.#gapFrom = undefined;
    }
    const procs = plan.commands.map((c) =>
      spawn(c.cmd, c.args, { stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    if (procs.length > 1) {
      procs[0].stdout?.pipe(procs[1].stdin!);
      procs[1].stdin?.on('error', () => undefined); // the source dying is handled on close
    }
    const ffmpeg = procs[procs.length - 1];
    try {
      noteCaptureProcesses(this.#o.chunkDir, procs.map((p) => p.pid));
    } catch (err) {
      this.emit('warning', `could not note the capture processes (an agent crash would leave them running): ${(err as Error).message}`);
    }
    const run: Run = { procs, ffmpeg, plan, wallStart, lastEnd: wallStart, chunks: 0, stderrTail: '', killedByUs: false, intake: Promise.resolve(), closed: Promise.resolve() };
    // 'close' (not 'exit') fires after stdout is drained, so no listed chunk is missed.
    run.closed = Promise.all(procs.map((p) => new Promise<void>((r) => p.once('close', () => r())))).then(() => this.#onClosed(run));
    for (const p of procs) {
      p.on('error', (err) => { run.stderrTail += `\n${p.spawnfile}: ${err.message}`; });
      p.stderr?.on('data', (d: Buffer) => { run.stderrTail = (run.stderrTail + d.toString()).slice(-4096); });
      // One process dying (or failing to spawn, which emits no 'exit') takes the pipeline down, so a half pipeline never lingers.
      const takeDown = () => {
        for (const q of procs) {
          if (q === p || q.exitCode !== null || q.signalCode !== null) continue;
          run.killedByUs = true;
          q.kill('SIGKILL');
        }
      };
      p.once('exit', takeDown);
      p.once('error', takeDown);
    }
    ffmpeg.stdin?.on('error', () => undefined); // writing `q` to a dead ffmpeg is not an error worth more than its close
    const parser = new SegmentListParser();
    ffmpeg.stdout?.setEncoding('utf8');
    ffmpeg.stdout?.on('data', (text: string) => {
      const { entries, errors } = parser.push(text);
      for (const e of errors) this.emit('warning', e);
      for (const e of entries) run.intake = run.intake.then(() => this.#onListed(run, e));
    });
    this.#run = run;
    if (this.#state !== 'stopping') this.#setState('running');
  }

  async #onListed(run: Run, e: SegmentEntry): Promise<void> {
    const file = basename(e.file);
    const path = isAbsolute(e.file) ? e.file : join(this.#o.chunkDir, file);
    const index = chunkIndexOf(file);
    if (index === undefined) {
      this.emit('warning', `segment list named an unexpected file ${e.file}`);
      return;
    }
    const st = await stat(path).catch(() => undefined);
    if (st === undefined) {
      this.emit('warning', `listed chunk ${path} is missing`);
      return;
    }
    this.#known.add(file);
    this.#nextIndex = Math.max(this.#nextIndex, index + 1);
    // A chunk ends where its last frame ends, and ffmpeg takes a frame in once the frame's start has
    // come (-re, a live camera): the chunk `q` closes ends up to one frame in the future (~260 ms at
    // 2 fps, measured). Nothing has ended after the moment it is listed, so the end is capped there;
    // the next chunk starts where this one was said to end, keeping the run contiguous. Without the
    // cap a quick restart started before the previous run "ended" and its restart gap was lost.
    const startTime = run.chunks === 0 ? run.wallStart + Math.round(e.startS * 1000) : run.lastEnd;
    const endTime = Math.max(startTime, Math.min(run.wallStart + Math.round(e.endS * 1000), this.#o.now()));
    run.chunks++;
    run.lastEnd = endTime;
    this.#delayMs = this.#o.backoff.initialMs;
    this.emit('chunk', {
      path, file, index,
      startTime,
      endTime,
      durationS: Math.round((e.endS - e.startS) * 1000) / 1000,
      bytes: st.size,
      codec: run.plan.codec,
    });
  }

  async #onClosed(run: Run): Promise<void> {
    forgetCaptureProcesses(this.#o.chunkDir);
    await run.intake;
    this.#run = undefined;
    await this.#salvageUnlisted(run).catch((err: Error) => this.emit('warning', `salvage after ffmpeg exit failed: ${err.message}`));
    if (this.#state === 'stopping') {
      this.#setState('stopped');
      return;
    }
    const f = run.ffmpeg;
    const how = f.signalCode !== null ? `signal ${f.signalCode}` : `code ${String(f.exitCode)}`;
    const last = run.stderrTail.trim().split('\n').at(-1) ?? '';
    const reason = `ffmpeg exited with ${how}${last === '' ? '' : `: ${last}`}`;
    this.#gapFrom ??= { at: run.lastEnd, reason };
    // Dying before the first chunk, unless something outside killed ffmpeg, means the source is unusable: a fault, retried with backoff.
    if (run.chunks === 0 && (f.signalCode === null || run.killedByUs)) this.#setState('fault', reason);
    else this.#setState('restarting', reason);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#o.backoff.maxMs);
    this.#retryTimer = setTimeout(() => this.#launch(), delay);
  }

  /** Salvages unlisted chunk files; after a crash their times continue from the run's last listed chunk. */
  async #salvageUnlisted(run: Run | undefined): Promise<SalvageResult[]> {
    const results = await salvage(this.#o.chunkDir, this.#known, this.#o.ffprobePath);
    for (const r of results) {
      this.#known.add(r.file);
      const index = chunkIndexOf(r.file);
      if (index !== undefined) this.#nextIndex = Math.max(this.#nextIndex, index + 1);
      this.emit('salvage', r);
      if (r.outcome !== 'salvaged' || index === undefined) continue;
      const startTime = run !== undefined ? run.lastEnd : Math.round(r.mtimeMs - r.durationS * 1000);
      const endTime = startTime + Math.round(r.durationS * 1000);
      if (run !== undefined) {
        run.lastEnd = endTime;
        if (this.#gapFrom !== undefined) this.#gapFrom.at = Math.max(this.#gapFrom.at, endTime);
      }
      this.emit('chunk', {
        path: r.path, file: r.file, index, startTime, endTime, durationS: r.durationS, bytes: r.bytes,
        codec: run?.plan.codec ?? 'mpegts', salvaged: true,
      });
    }
    return results;
  }

  async #highestIndex(): Promise<number> {
    let max = -1;
    for (const d of [this.#o.chunkDir, join(this.#o.chunkDir, QUARANTINE_DIR)]) {
      for (const f of await readdir(d).catch(() => [] as string[])) {
        const i = chunkIndexOf(f.replace(/\.\d+$/, ''));
        if (i !== undefined) max = Math.max(max, i);
      }
    }
    return max;
  }
}
