import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { unlink } from 'node:fs/promises';
import { fsyncFileAndDir } from '../../lib/atomic-write.js';
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
  /**
   * Makes a finished chunk file and its directory entry durable (fsync both) before its chain
   * record is signed and committed: a durable record must never point at a file a power cut can
   * still tear. Default: fsyncFileAndDir.
   */
  syncFile?: (path: string) => Promise<void>;
  /**
   * Commits a session's manifest durably (the outbox); resolves once it is. The session leaves the
   * store only after that: until then a restart rebuilds the same manifest. Without it a manifest
   * counts as committed once made.
   */
  commitManifest?: (manifest: Manifest) => Promise<void>;
  /** How often a failed manifest commit or restart-store write (a full disk) is tried again; default 30 s. */
  manifestRetryMs?: number;
}

/**
 * Wires the recorder to the mode machine and the evidence chain: every
 * finished chunk goes through the mode machine, whose actions are carried
 * out here (delete, commit into the session's signed chain, close with a
 * manifest); ffmpeg runs only while the mode wants chunks.
 */
export class MediaService extends EventEmitter<MediaServiceEvents> {
  readonly #o: Required<Omit<MediaServiceOptions, 'position' | 'store' | 'commitManifest'>> & Pick<MediaServiceOptions, 'position' | 'store' | 'commitManifest'>;
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
  /** Manifests made but not yet committed (the outbox refused them), retried on a timer. */
  readonly #uncommitted = new Map<string, Manifest>();
  /** Restart-store writes not yet done (a full disk), in order. */
  readonly #storeOps: Array<{ what: string; op: (store: SessionStore) => void }> = [];
  #storeFailing = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(opts: MediaServiceOptions) {
    super();
    this.#o = { now: Date.now, remove: (p) => unlink(p), syncFile: fsyncFileAndDir, manifestRetryMs: 30_000, ...opts };
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
    // The newest session that had not ended is carried on; sessions that had ended only wait for their manifest.
    const carryOn = stored.filter((s) => s.endedAt === undefined).at(-1);
    for (const s of stored) {
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
      if (s.endedAt !== undefined) {
        const endedAt = s.endedAt;
        this.#applying = this.#applying.then(() => this.#end(st.sessionId, endedAt)).catch((err: Error) => { this.emit('warning', err.message); });
        continue;
      }
      if (s !== carryOn) {
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

  /**
   * The disk is nearly full: closes the open session now, an SOS's included (its manifest lists
   * what was recorded), and stops capture until `setBase` brings it back. An alarm outranks its
   * evidence: an SOS recording must not take the disk the alarm needs.
   */
  haltCapture(): Promise<void> {
    return this.#command([...this.#o.mode.setBase('off'), ...this.#o.mode.shutdown()]);
  }

  /** Resolves once every action so far (hashing, signing, deleting) is done. */
  settled(): Promise<void> {
    return this.#applying;
  }

  /** Stops capture (the last chunk is listed and handled) and waits for pending work; an open session stays open. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#tickTimer);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
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
        try {
          await this.#o.syncFile(c.path);
        } catch (err) {
          // Not durable, so not signed: a stretch without evidence rather than a signed record of a file a power cut may tear.
          this.#addGap(a.sessionId, { from: c.startTime, to: c.endTime, reason: `chunk ${c.file} could not be made durable: ${(err as Error).message}` });
          this.emit('warning', `chunk ${c.path} left out of session ${a.sessionId}: fsync failed: ${(err as Error).message}`);
          return;
        }
        const record = await this.#session(a.sessionId).addChunk({
          path: c.path, startTime: c.startTime, endTime: c.endTime, durationS: c.durationS, codec: c.codec,
          ...(c.salvaged === true ? { salvaged: true } : {}), ...(c.position === undefined ? {} : { position: c.position }),
        });
        // On disk before anyone can upload it: a restart must never reuse this index. If the write
        // fails (a full disk) it is kept and written, in order, once the disk takes it again; the
        // chunk is uploaded meanwhile, so the chain the ingest gets stays whole.
        this.#persist(`chunk ${record.meta.index} of session ${a.sessionId}`, (st) => st.addRecord(record, c.path));
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
    this.#persist(`the end of session ${sessionId}`, (st) => st.markEnded(sessionId, endedAt));
    await this.#commitManifest(manifest);
  }

  /**
   * Writes to the restart store in order; a write that fails (a full disk) waits, with every write
   * after it, and is retried on the next write and on a timer. Warned about once per episode.
   */
  #persist(what: string, op: (store: SessionStore) => void): void {
    if (this.#o.store === undefined) return;
    this.#storeOps.push({ what, op });
    this.#drainStore();
  }

  /** True when every queued store write is done. */
  #drainStore(): boolean {
    const store = this.#o.store;
    if (store === undefined) return true;
    while (this.#storeOps.length > 0) {
      const next = this.#storeOps[0];
      try {
        next.op(store);
      } catch (err) {
        if (!this.#storeFailing) this.emit('warning', `could not save ${next.what} for a restart (kept, written once the disk takes it): ${(err as Error).message}`);
        this.#storeFailing = true;
        this.#armRetry();
        return false;
      }
      this.#storeOps.shift();
    }
    if (this.#storeFailing) this.emit('warning', 'restart store written again: every pending write is saved');
    this.#storeFailing = false;
    return true;
  }

  /** Commits the manifest, and only then lets the session go from the store; retried later when the commit fails. */
  async #commitManifest(manifest: Manifest): Promise<void> {
    const sessionId = manifest.sessionId;
    try {
      await this.#o.commitManifest?.(manifest);
    } catch (err) {
      this.#uncommitted.set(sessionId, manifest);
      this.emit('warning', `manifest of session ${sessionId} not committed (${(err as Error).message}); kept in the restart store, retried in ${this.#o.manifestRetryMs} ms`);
      this.#armRetry();
      return;
    }
    this.#uncommitted.delete(sessionId);
    // After the session's other writes (queued in order): harmless if it waits, the next start makes the same manifest again and the ingest keeps it once.
    this.#persist(`the removal of ended session ${sessionId}`, (st) => st.remove(sessionId));
    this.emit('manifest', manifest);
  }

  /** Retries queued store writes, then uncommitted manifests, every `manifestRetryMs` while any remain. */
  #armRetry(): void {
    if (this.#retryTimer !== undefined || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#drainStore();
      for (const m of this.#uncommitted.values()) this.#applying = this.#applying.then(() => this.#commitManifest(m)).catch((err: Error) => { this.emit('warning', err.message); });
    }, this.#o.manifestRetryMs);
    this.#retryTimer.unref();
  }

  #addGap(sessionId: string, gap: Gap): void {
    this.#session(sessionId).addGap(gap);
    this.#persist(`a gap of session ${sessionId}`, (st) => st.addGap(sessionId, gap));
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
