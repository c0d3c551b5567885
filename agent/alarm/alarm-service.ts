import type { Fix } from '../../protocol/index.js';
import type { PressEvent, SosMachine, SosResend, SosTransition } from '../button/index.js';
import type { CommandRegistry } from '../commands/command-registry.js';
import type { Logger } from '../../lib/logger.js';
import type { Transport } from '../transport/transport.js';

export interface AlarmDeps {
  sos: SosMachine;
  transport: Transport;
  commands: CommandRegistry;
  logger: Logger;
  /** The last fix with its age, or undefined if there never was one. */
  lastFix: () => Fix | undefined;
  batteryPct: () => number | undefined;
  /** Called on a new SOS: GPS burst, recording with the pre-event buffer (media hook). */
  onRaise: Array<(alarmId: string) => void>;
  /**
   * Disk kept for the alarm path (see DiskReserve): when an alarm cannot be stored for a storage
   * reason (disk full, I/O error), one slice is released and the alarm is stored again at once.
   */
  reserve?: { release(): { freedBytes: number; heldBytes: number } };
}

/** True when `err` (or an error it wraps) is a storage failure: SQLite's or the file system's, by code. */
export function isStorageFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_') || code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EROFS')) return true;
  }
  return false;
}

/**
 * Turns button gestures into alarms and alarms into messages: an SOS goes into
 * the alarm lane at once with the last fix, is re-sent with a rising
 * escalation until the platform's `alarm.ack` arrives, and a cancel or an
 * acknowledgement is itself published; nothing erases an alarm.
 */
export class AlarmService {
  readonly #d: AlarmDeps;
  #saveFaulted = false;

  constructor(d: AlarmDeps) {
    this.#d = d;
    d.sos.on('transition', (t: SosTransition) => void this.#onTransition(t));
    d.sos.on('resend', (r: SosResend) => void this.#publish(r.alarmId, 'raised', r.escalation));
    // The alarm goes on from memory when its state cannot be saved; say so once per episode.
    d.sos.on('fault', (f) => {
      if (f.kind === 'store-save' && this.#saveFaulted) return;
      if (f.kind === 'store-save') this.#saveFaulted = true;
      d.logger.error({ err: f.error.message, kind: f.kind }, f.kind === 'store-save' ? 'SOS state not saved (the alarm goes on; a restart now would lose its state)' : 'SOS listener failed');
    });
    d.sos.on('store-recovered', () => {
      this.#saveFaulted = false;
      d.logger.info('SOS state saved again');
    });
    // Restarted while raised (power cut, kill -9): the state was saved before the alarm message
    // was durable, so send it again now rather than one re-send interval later.
    const s = d.sos.state;
    if (s.phase === 'raised' && s.alarmId !== undefined) void this.#publish(s.alarmId, 'raised', s.escalation);
    // Idempotent (an alarm already acknowledged or resolved answers ok), so safe to run again after a restart.
    d.commands.register('alarm.ack', (args) => this.#command(args, 'acknowledge'), { replaySafe: true });
    d.commands.register('alarm.resolve', (args) => this.#command(args, 'resolve'), { replaySafe: true });
    d.commands.register('alarm.raise', () => {
      const r = d.sos.raise();
      return r.ok ? { result: { alarmId: r.state.alarmId } } : { status: 'refused', reason: r.error };
    });
  }

  /** Feeds a classified press. */
  onPress(e: PressEvent): void {
    const sos = this.#d.sos;
    if (e.kind === 'sos') {
      const r = sos.raise();
      if (!r.ok) this.#d.logger.warn({ reason: r.error }, 'SOS press while an alarm is active');
    } else if (e.kind === 'cancel') {
      const r = sos.cancel();
      if (!r.ok) this.#d.logger.info({ reason: r.error }, 'cancel gesture ignored');
    } else if (e.kind === 'stuck' || e.kind === 'unstuck') {
      this.#d.transport.event({
        kind: e.kind === 'stuck' ? 'button.stuck' : 'button.unstuck',
        severity: e.kind === 'stuck' ? 'warning' : 'info',
        message: e.kind === 'stuck' ? 'alarm button held for over 30 s: treated as a fault, not as alarms' : 'alarm button released',
      });
    }
  }

  #command(args: Record<string, unknown>, action: 'acknowledge' | 'resolve') {
    const alarmId = args.alarmId;
    if (typeof alarmId !== 'string') return { status: 'error' as const, reason: 'args.alarmId (string) is required' };
    // Already there (the platform repeated itself, or the command ran before a restart): nothing to do.
    const now = this.#d.sos.state;
    const done = action === 'acknowledge' ? ['acknowledged', 'resolved'] : ['resolved'];
    if (now.alarmId === alarmId && done.includes(now.phase)) return { result: { alarmId, state: now.phase } };
    const r = action === 'acknowledge' ? this.#d.sos.acknowledge(alarmId) : this.#d.sos.resolve(alarmId);
    return r.ok ? { result: { alarmId, state: r.state.phase } } : { status: 'refused' as const, reason: r.error };
  }

  async #onTransition(t: SosTransition): Promise<void> {
    if (t.to === 'raised') {
      this.#d.logger.warn({ alarmId: t.alarmId }, 'SOS raised');
      for (const hook of this.#d.onRaise) {
        try {
          hook(t.alarmId);
        } catch (err) {
          this.#d.logger.error({ err: (err as Error).message }, 'SOS hook failed');
        }
      }
    }
    await this.#publish(t.alarmId, t.to === 'idle' ? 'resolved' : t.to, this.#d.sos.state.escalation);
  }

  async #publish(alarmId: string, state: 'raised' | 'acknowledged' | 'cancelled' | 'resolved', escalation: number): Promise<void> {
    const s = this.#d.sos.state;
    const fix = this.#d.lastFix();
    const battery = this.#d.batteryPct();
    const body = {
      alarmId,
      state,
      trigger: 'button' as const,
      raisedAt: s.raisedAt ?? Date.now(),
      escalation,
      ...(fix ? { fix } : {}),
      ...(battery !== undefined ? { batteryPct: battery } : {}),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#d.transport.send('alarm', 'alarm', body);
        if (attempt > 0) this.#d.logger.warn({ alarmId, state, escalation }, 'alarm stored in reserved disk space');
        return;
      } catch (err) {
        // The outbox never refuses alarms: this is the disk. Give the alarm path its reserved space and store it again.
        const freed = attempt === 0 && isStorageFailure(err) ? this.#d.reserve?.release() : undefined;
        if (freed !== undefined && freed.freedBytes > 0) {
          this.#d.logger.error({ err: (err as Error).message, alarmId, freedBytes: freed.freedBytes, reserveLeftBytes: freed.heldBytes }, 'alarm could not be stored: released reserved disk space for it');
          continue;
        }
        // Logged loudly; the re-send timer tries again.
        this.#d.logger.fatal({ err: (err as Error).message, alarmId }, 'could not store alarm');
        return;
      }
    }
  }
}
