import type { Gap } from '../../protocol/media.js';

/*
 * What happens to each finished chunk: kept in a short rolling buffer,
 * committed to a recording session, or deleted. Pure: the caller feeds it
 * chunks, commands and clock ticks and carries out the returned actions.
 *
 * - off: chunks are not wanted (capture may stop); any that arrive are deleted.
 * - buffering: only the last `bufferS` seconds of chunks are kept.
 * - recording: a session is open. A visit opens one with startRecording and
 *   closes it with stopRecording; SOS opens one (or joins the open one),
 *   first committing the buffered chunks, and keeps it open for `postEventS`
 *   after the alarm. A session ends with the first chunk that starts at or
 *   after its end time (the chunk covering the end is still in it), or on a
 *   tick `endGraceMs` after the end time when no chunk comes (ffmpeg down).
 */

export type BaseMode = 'off' | 'buffering';
export type Mode = BaseMode | 'recording';

/** The chunk fields the machine reads; anything else rides along untouched. */
export interface ModeChunk {
  startTime: number;
  endTime: number;
}

export interface SessionInfo {
  sessionId: string;
  trigger: 'visit' | 'sos';
  visitId?: string;
  startedAt: number;
  alarms: string[];
}

export type ModeAction<C extends ModeChunk> =
  | { type: 'delete'; chunk: C }
  | { type: 'session-start'; session: SessionInfo }
  | { type: 'commit'; sessionId: string; chunk: C; preEvent: boolean }
  | { type: 'alarm'; sessionId: string; alarmId: string }
  | { type: 'gap'; sessionId: string; gap: Gap }
  | { type: 'session-end'; sessionId: string; endedAt: number };

export interface ModeOptions {
  base?: BaseMode;
  /** Seconds of chunks kept while buffering (the pre-event buffer). */
  bufferS?: number;
  /** Seconds an SOS keeps recording after the alarm. */
  postEventS?: number;
  /** How long past a session's end time to wait for its closing chunk before ending it anyway. */
  endGraceMs?: number;
  now: () => number;
  newSessionId: () => string;
}

/** The open session as the machine holds it: what is persisted so a restart can carry on with it. */
export interface OpenSession extends SessionInfo {
  /** When the session ends; undefined while a visit runs. */
  until: number | undefined;
  /** Latest end of the SOS post-event windows, which a visit's stop cannot cut short. */
  sosUntil: number | undefined;
}

/** The recording mode state machine. */
export class ModeMachine<C extends ModeChunk> {
  readonly #o: Required<ModeOptions>;
  #base: BaseMode;
  #buffer: C[] = [];
  #session: OpenSession | undefined;

  constructor(opts: ModeOptions) {
    this.#o = { base: 'buffering', bufferS: 30, postEventS: 60, endGraceMs: 15_000, ...opts };
    this.#base = this.#o.base;
  }

  get mode(): Mode {
    return this.#session !== undefined ? 'recording' : this.#base;
  }

  /** True when chunks are wanted, i.e. ffmpeg should run. */
  get wantsCapture(): boolean {
    return this.mode !== 'off';
  }

  get session(): SessionInfo | undefined {
    const s = this.#session;
    return s === undefined ? undefined : { sessionId: s.sessionId, trigger: s.trigger, ...(s.visitId === undefined ? {} : { visitId: s.visitId }), startedAt: s.startedAt, alarms: [...s.alarms] };
  }

  /** A copy of the open session's full state (for persisting it), or undefined. */
  snapshot(): OpenSession | undefined {
    const s = this.#session;
    return s === undefined ? undefined : { ...s, alarms: [...s.alarms] };
  }

  /**
   * Carries on with a session a previous run of the agent left open (power cut, crash): the
   * machine is recording it again, with its end time and alarms, as if it had never stopped.
   * Only before anything else has happened: it replaces no session.
   */
  restore(session: OpenSession): void {
    if (this.#session !== undefined) throw new Error(`cannot restore session ${session.sessionId}: session ${this.#session.sessionId} is open`);
    this.#session = { ...session, alarms: [...session.alarms] };
  }

  /** Chunks currently held in the pre-event buffer, oldest first. */
  get buffered(): readonly C[] {
    return this.#buffer;
  }

  /** When `tick` may next end a session, if one is ending. */
  get deadline(): number | undefined {
    const u = this.#session?.until;
    return u === undefined ? undefined : u + this.#o.endGraceMs;
  }

  /** Switches what happens outside sessions; going off drops the buffer. */
  setBase(base: BaseMode): ModeAction<C>[] {
    this.#base = base;
    return base === 'off' ? this.#dropBuffer() : [];
  }

  /** A visit starts: opens a session for it. Buffered chunks predate the visit and are dropped. */
  startRecording(visitId: string): ModeAction<C>[] {
    const s = this.#session;
    if (s !== undefined) {
      if (s.trigger === 'sos' || s.visitId === visitId) {
        // The visit joins the open session; it now runs until stopRecording.
        s.until = undefined;
        return [];
      }
      return [...this.#end(this.#o.now()), ...this.#open('visit', visitId)];
    }
    return [...this.#dropBuffer(), ...this.#open('visit', visitId)];
  }

  /** The visit ends: the session closes once the chunk covering now is in, or after the SOS window if later. */
  stopRecording(): ModeAction<C>[] {
    const s = this.#session;
    if (s === undefined) return [];
    s.until = Math.max(this.#o.now(), s.sosUntil ?? 0);
    return [];
  }

  /** SOS: records from the buffered chunks on, until `postEventS` after now (joining an open session). */
  onSos(alarmId: string): ModeAction<C>[] {
    const now = this.#o.now();
    const post = now + this.#o.postEventS * 1000;
    const actions: ModeAction<C>[] = [];
    if (this.#session === undefined) {
      actions.push(...this.#open('sos', undefined));
      const id = this.#session!.sessionId;
      for (const chunk of this.#buffer) actions.push({ type: 'commit', sessionId: id, chunk, preEvent: true });
      this.#buffer = [];
      this.#session!.until = post;
    }
    const s = this.#session!;
    s.sosUntil = Math.max(s.sosUntil ?? 0, post);
    if (s.until !== undefined) s.until = Math.max(s.until, s.sosUntil);
    if (!s.alarms.includes(alarmId)) {
      s.alarms.push(alarmId);
      actions.push({ type: 'alarm', sessionId: s.sessionId, alarmId });
    }
    return actions;
  }

  /** A finished chunk: committed, buffered (dropping what falls out of the window) or deleted. */
  onChunk(chunk: C): ModeAction<C>[] {
    const actions: ModeAction<C>[] = [];
    const s = this.#session;
    if (s !== undefined && s.until !== undefined && chunk.startTime >= s.until) actions.push(...this.#end(s.until));
    if (this.#session !== undefined) {
      actions.push({ type: 'commit', sessionId: this.#session.sessionId, chunk, preEvent: false });
      return actions;
    }
    if (this.#base === 'off') return [...actions, { type: 'delete', chunk }];
    this.#buffer.push(chunk);
    const keepAfter = chunk.endTime - this.#o.bufferS * 1000;
    while (this.#buffer.length > 0 && this.#buffer[0].endTime <= keepAfter) actions.push({ type: 'delete', chunk: this.#buffer.shift()! });
    return actions;
  }

  /** A stretch without chunks; recorded in the open session. */
  onGap(gap: Gap): ModeAction<C>[] {
    return this.#session === undefined ? [] : [{ type: 'gap', sessionId: this.#session.sessionId, gap }];
  }

  /** The agent is stopping: close the open session now so its manifest is written (a power cut leaves it open, and `verify` says so). */
  shutdown(): ModeAction<C>[] {
    return this.#end(this.#o.now());
  }

  /** Ends a session whose closing chunk never came. */
  tick(): ModeAction<C>[] {
    const s = this.#session;
    if (s?.until === undefined || this.#o.now() < s.until + this.#o.endGraceMs) return [];
    return this.#end(s.until);
  }

  #open(trigger: 'visit' | 'sos', visitId: string | undefined): ModeAction<C>[] {
    const s: OpenSession = {
      sessionId: this.#o.newSessionId(),
      trigger,
      ...(visitId === undefined ? {} : { visitId }),
      startedAt: this.#o.now(),
      alarms: [],
      until: undefined,
      sosUntil: undefined,
    };
    this.#session = s;
    return [{ type: 'session-start', session: this.session! }];
  }

  #end(endedAt: number): ModeAction<C>[] {
    const s = this.#session;
    if (s === undefined) return [];
    this.#session = undefined;
    return [{ type: 'session-end', sessionId: s.sessionId, endedAt }];
  }

  #dropBuffer(): ModeAction<C>[] {
    const dropped = this.#buffer.map((chunk) => ({ type: 'delete' as const, chunk }));
    this.#buffer = [];
    return dropped;
  }
}
