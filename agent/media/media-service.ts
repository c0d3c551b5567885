import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { unlink } from 'node:fs/promises';
import type { Fix } from '../../protocol/index.js';
import type { ChunkRecord, Gap, Manifest } from '../../protocol/media.js';
import { EvidenceSession } from './evidence.js';
import type { ModeAction, ModeMachine, OpenSession, SessionInfo } from './mode.js';
import type { ChunkEvent, Recorder, RecorderStatus } from './recorder.js';
import type { SessionStore } from './session-store.js';

/** The gap a restart leaves in a session it carries on with. */
export const RESTART_GAP_REASON = 'agent restarted: recording interrupted (power cut or crash)';

export interface MediaServiceEvents {
  /** A chunk joined a session's chain: queue its header and parts for upload. */
  record: [{ record: ChunkRecord; path: string; preEvent: boolean }];
  /** A session closed: queue its manifest (the visit's service record). */
  manifest: [Manifest];
  'session-start': [SessionInfo];
  status: [RecorderStatus];
  /** Something failed that the agent should log (a chunk that could not be hashed, a file that could not be deleted). */
  warning: [string];
}

export interface MediaServiceOptions {
  deviceId: string;
  recorder: Recorder;
  mode: ModeMachine<ChunkEvent>;
  privateKey: KeyObject;
  /** Current position, sampled when each chunk starts. */
  position?: () => Fix | undefined;
  now?: () => number;
  /** Deletes a chunk file that fell out of the buffer (injectable for tests). */
  remove?: (path: string) => Promise<void>;
  /** Keeps the open session on disk so a restart carries on with it (see SessionStore). */
  store?: SessionStore;
}

/**
 * Wires the recorder to the mode machine and the evidence chain: every
 * finished chunk goes through the mode machine, whose actions are carried
 * out here (delete, commit into the session's signed chain, close with a
 * manifest); ffmpeg runs only while the mode wants chunks.
 */
export class MediaService extends EventEmitter<MediaServiceEvents> {
  readonly #o: Required<Omit<MediaServiceOptions, 'position' | 'store'>> & Pick<MediaServiceOptions, 'position' | 'store'>;
  readonly #sessions = new Map<string, EvidenceSession>();
  #positionAtStart: Fix | undefined;
  #tickTimer: NodeJS.Timeout | undefined;
  #applying: Promise<void> = Promise.resolve();
  /** Capture start/stop decisions, one at a time so two cannot both start ffmpeg. */
  #capture: Promise<void> = Promise.resolve();
  #stopped = false;
  /** The session state last written to the store. */
  #savedState = '';
  /** A session carried on after a restart: its restart gap starts here and is recorded when the next fresh chunk (or the end) comes. */
  #resumed: { sessionId: string; from: number } | undefined;

  constructor(opts: MediaServiceOptions) {
    super();
    this.#o = { now: Date.now, remove: (p) => unlink(p), ...opts };
    const r = opts.recorder;
    r.on('chunk', (c) => {
      const pos = this.#positionAtStart;
      this.#positionAtStart = this.#o.position?.();
      this.#apply(this.#o.mode.onChunk(pos === undefined ? c : { ...c, position: pos }));
    });
    r.on('gap', (g) => this.#apply(this.#o.mode.onGap(g)));
    r.on('status', (s) => this.emit('status', s));
    r.on('warning', (w) => this.emit('warning', w));
  }

  /**
   * Carries on with what a previous run left open (call once, before salvage and start): the
   * newest stored session is open again in the mode machine and its chain continues; a gap
   * for the downtime is recorded when recording resumes. Any older one (a crash between two
   * sessions) is closed at once with its manifest. Returns the restored sessions' chunks, for
   * the uploader to queue any that never reached it.
   */
  restore(): Array<{ record: ChunkRecord; path: string }> {
    const store = this.#o.store;
    if (store === undefined) return [];
    const stored = store.load();
    const out: Array<{ record: ChunkRecord; path: string }> = [];
    for (const [i, s] of stored.entries()) {
      out.push(...s.records);
      const st = s.state;
      let session: EvidenceSession;
      try {
        session = EvidenceSession.resume(
          { deviceId: this.#o.deviceId, sessionId: st.sessionId, trigger: st.trigger, startedAt: st.startedAt, codec: 'mpegts', privateKey: this.#o.privateKey, ...(st.visitId === undefined ? {} : { visitId: st.visitId }) },
          s.records.map((r) => r.record),
          s.gaps,
          st.alarms,
        );
      } catch (err) {
        // A damaged store must not keep evidence capture down: its chunks still upload (and verify) on their own.
        this.emit('warning', `cannot carry on with session ${st.sessionId} (${(err as Error).message}); it stays without a manifest`);
        store.remove(st.sessionId);
        continue;
      }
      this.#sessions.set(st.sessionId, session);
      const lastEnd = s.records.at(-1)?.record.meta.endTime ?? st.startedAt;
      if (i < stored.length - 1) {
        this.#applying = this.#applying.then(() => this.#end(st.sessionId, lastEnd, lastEnd)).catch((err: Error) => { this.emit('warning', err.message); });
        continue;
      }
      this.#o.mode.restore(st);
      this.#savedState = JSON.stringify(st);
      this.#resumed = { sessionId: st.sessionId, from: lastEnd };
    }
    this.#armTick();
    return out;
  }

  /** Starts capture if the mode wants it. */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#positionAtStart = this.#o.position?.();
    await this.#syncCapture();
  }

  startRecording(visitId: string): Promise<void> {
    return this.#command(this.#o.mode.startRecording(visitId));
  }

  stopRecording(): Promise<void> {
    return this.#command(this.#o.mode.stopRecording());
  }

  /** SOS: keep the pre-event buffer and record for the post-event time. */
  onSos(alarmId: string): Promise<void> {
    return this.#command(this.#o.mode.onSos(alarmId));
  }

  setBase(base: 'off' | 'buffering'): Promise<void> {
    return this.#command(this.#o.mode.setBase(base));
  }

  /** Resolves once every action so far (hashing, signing, deleting) is done. */
  settled(): Promise<void> {
    return this.#applying;
  }

  /** Stops capture (the last chunk is listed and handled) and waits for pending work; an open session stays open. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#tickTimer);
    await this.#o.recorder.stop();
    await this.#applying;
  }

  /** Stops capture and closes the open session with its signed manifest (graceful agent shutdown). */
  async shutdown(): Promise<void> {
    await this.stop();
    this.#apply(this.#o.mode.shutdown());
    await this.#applying;
  }

  async #command(actions: ModeAction<ChunkEvent>[]): Promise<void> {
    this.#apply(actions); // also saves what the command changed without an action (a visit's end time)
    await this.#syncCapture();
  }

  #apply(actions: ModeAction<ChunkEvent>[]): void {
    this.#saveState();
    for (const a of actions) this.#applying = this.#applying.then(() => this.#do(a)).catch((err: Error) => { this.emit('warning', err.message); });
    this.#armTick();
    void this.#applying.then(() => this.#syncCapture()).catch((err: Error) => this.emit('warning', `capture control failed: ${err.message}`));
  }

  async #do(a: ModeAction<ChunkEvent>): Promise<void> {
    switch (a.type) {
      case 'delete':
        await this.#o.remove(a.chunk.path).catch((err: Error) => this.emit('warning', `could not delete buffered chunk ${a.chunk.path}: ${err.message}`));
        return;
      case 'session-start': {
        const s = a.session;
        this.#sessions.set(s.sessionId, new EvidenceSession({
          deviceId: this.#o.deviceId, sessionId: s.sessionId, trigger: s.trigger, startedAt: s.startedAt,
          codec: 'mpegts', privateKey: this.#o.privateKey, ...(s.visitId === undefined ? {} : { visitId: s.visitId }),
        }));
        this.emit('session-start', s);
        return;
      }
      case 'commit': {
        const c = a.chunk;
        const r = this.#resumed;
        if (r?.sessionId === a.sessionId) {
          // A chunk salvaged from before the restart still belongs before the gap; the first fresh one closes it.
          if (c.salvaged === true) r.from = Math.max(r.from, c.endTime);
          else this.#closeRestartGap(c.startTime);
        }
        const record = await this.#session(a.sessionId).addChunk({
          path: c.path, startTime: c.startTime, endTime: c.endTime, durationS: c.durationS, codec: c.codec,
          ...(c.salvaged === true ? { salvaged: true } : {}), ...(c.position === undefined ? {} : { position: c.position }),
        });
        // On disk before anyone can upload it: a restart must never reuse this index. If the write
        // fails (disk trouble) the chunk is still uploaded: the chain the ingest gets stays whole,
        // only a restart before the session ends would cut the session short.
        try {
          this.#o.store?.addRecord(record, c.path);
        } catch (err) {
          this.emit('warning', `could not save chunk ${record.meta.index} of session ${a.sessionId} for a restart: ${(err as Error).message}`);
        }
        this.emit('record', { record, path: c.path, preEvent: a.preEvent });
        return;
      }
      case 'alarm':
        this.#session(a.sessionId).addAlarm(a.alarmId);
        return;
      case 'gap':
        this.#addGap(a.sessionId, a.gap);
        return;
      case 'session-end':
        if (this.#resumed?.sessionId === a.sessionId) this.#closeRestartGap(a.endedAt);
        return this.#end(a.sessionId, a.endedAt);
    }
  }

  async #end(sessionId: string, endedAt: number, restartGapFrom?: number): Promise<void> {
    if (restartGapFrom !== undefined) this.#addGap(sessionId, { from: restartGapFrom, to: Math.max(restartGapFrom, this.#o.now()), reason: RESTART_GAP_REASON });
    const manifest = await this.#session(sessionId).finish(endedAt);
    this.#sessions.delete(sessionId);
    try {
      this.#o.store?.remove(sessionId);
    } catch (err) {
      this.emit('warning', `could not remove ended session ${sessionId} from the restart store: ${(err as Error).message}`);
    }
    this.emit('manifest', manifest);
  }

  #addGap(sessionId: string, gap: Gap): void {
    this.#session(sessionId).addGap(gap);
    try {
      this.#o.store?.addGap(sessionId, gap);
    } catch (err) {
      this.emit('warning', `could not save a gap of session ${sessionId} for a restart: ${(err as Error).message}`);
    }
  }

  #closeRestartGap(to: number): void {
    const r = this.#resumed;
    if (r === undefined) return;
    this.#resumed = undefined;
    if (to > r.from) this.#addGap(r.sessionId, { from: r.from, to, reason: RESTART_GAP_REASON });
  }

  /** Writes the mode machine's open session when it changed (opened, alarm joined, end time set). */
  #saveState(): void {
    const store = this.#o.store;
    const snap: OpenSession | undefined = this.#o.mode.snapshot();
    if (store === undefined || snap === undefined) return;
    const json = JSON.stringify(snap);
    if (json === this.#savedState) return;
    try {
      store.saveState(snap);
      this.#savedState = json;
    } catch (err) {
      // Recording goes on; only a restart before the next successful write would lose the session's latest state.
      this.emit('warning', `could not save the open session ${snap.sessionId}: ${(err as Error).message}`);
    }
  }

  #session(id: string): EvidenceSession {
    const s = this.#sessions.get(id);
    if (s === undefined) throw new Error(`no open evidence session ${id}`);
    return s;
  }

  /** Ends a session whose closing chunk never came (ffmpeg down) once its deadline passes. */
  #armTick(): void {
    clearTimeout(this.#tickTimer);
    const d = this.#o.mode.deadline;
    if (d === undefined || this.#stopped) return;
    this.#tickTimer = setTimeout(() => this.#apply(this.#o.mode.tick()), Math.max(0, d - this.#o.now()));
    this.#tickTimer.unref();
  }

  #syncCapture(): Promise<void> {
    const next = this.#capture.then(() => this.#syncCaptureNow());
    this.#capture = next.catch(() => undefined);
    return next;
  }

  async #syncCaptureNow(): Promise<void> {
    if (this.#stopped) return;
    const r = this.#o.recorder;
    const idle = r.state === 'idle' || r.state === 'stopped';
    if (this.#o.mode.wantsCapture && idle) await r.start();
    else if (!this.#o.mode.wantsCapture && !idle && r.state !== 'stopping') await r.stop();
  }
}
