import { EventEmitter } from 'node:events';
import type { Alarm, CommandResult, DeviceStream } from '../../protocol/index.js';
import type { AlarmDeskApi, AlarmDeskEvents, CommandSenderApi, DeskActionResult, DeskAlarm, DeskState } from '../desk/types.js';
import type { AlarmDetail, PlatformStore, StoredEnvelope } from '../store/index.js';
import type { CommandIngest } from './command-sender.js';

/*
 * INTERIM, until the alarm desk (platform/desk, branch desk) is merged: the
 * desk's contract over the device's own alarm rows in the store, with
 * acknowledgement and resolution that send alarm.ack / alarm.resolve to the
 * device and report every change. It notifies nobody (no contacts, no
 * escalation) and keeps who acknowledged in memory only. Replaced in one
 * place: platform/services.ts.
 */

interface Action {
  acknowledgedBy?: string;
  acknowledgedAt?: number;
  resolvedBy?: string;
  resolvedAt?: number;
  note?: string;
  history: DeskAlarm['history'];
  ackCommand?: NonNullable<DeskAlarm['ackCommand']>;
}

const key = (deviceId: string, alarmId: string) => `${deviceId}\u0000${alarmId}`;
const CLOSED: ReadonlySet<DeskState> = new Set(['resolved', 'cancelled']);

export class InterimDesk extends EventEmitter<AlarmDeskEvents> implements AlarmDeskApi {
  readonly #store: PlatformStore;
  readonly #commands: CommandSenderApi;
  readonly #ingest: CommandIngest;
  readonly #now: () => number;
  readonly #actions = new Map<string, Action>();
  /** requestId of an alarm.ack → the alarm it acknowledges. */
  readonly #acks = new Map<string, string>();
  readonly #onStored = (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => {
    if (stream === 'alarm') void this.#changed(deviceId, (msg as unknown as Alarm).alarmId);
    if (stream !== 'result') return;
    const r = msg as unknown as CommandResult;
    const k = this.#acks.get(r.requestId);
    const a = k === undefined ? undefined : this.#actions.get(k);
    if (a?.ackCommand === undefined) return;
    a.ackCommand.status = r.status;
    a.ackCommand.answeredAt = this.#now();
    if (r.reason !== undefined) a.ackCommand.reason = r.reason;
    void this.#changed(deviceId, k!.split('\u0000')[1]);
  };

  constructor(o: { store: PlatformStore; commands: CommandSenderApi; ingest: CommandIngest; now?: () => number }) {
    super();
    this.#store = o.store;
    this.#commands = o.commands;
    this.#ingest = o.ingest;
    this.#now = o.now ?? Date.now;
    o.ingest.on('stored', this.#onStored);
  }

  async list(filter: { open?: boolean; deviceId?: string; from?: number; to?: number } = {}): Promise<DeskAlarm[]> {
    const views = await this.#store.alarms({ deviceId: filter.deviceId, from: filter.from, to: filter.to, limit: 100_000 });
    const out: DeskAlarm[] = [];
    for (const v of views) {
      const d = await this.#store.alarm(v.deviceId, v.alarmId);
      if (d === undefined) continue;
      const alarm = this.#desk(d);
      if (filter.open === true && CLOSED.has(alarm.state)) continue;
      if (filter.open === false && !CLOSED.has(alarm.state)) continue;
      out.push(alarm);
    }
    return out;
  }

  async get(deviceId: string, alarmId: string): Promise<DeskAlarm | undefined> {
    const d = await this.#store.alarm(deviceId, alarmId);
    return d === undefined ? undefined : this.#desk(d);
  }

  async acknowledge(deviceId: string, alarmId: string, by: string): Promise<DeskActionResult> {
    const d = await this.#store.alarm(deviceId, alarmId);
    if (d === undefined) return { ok: false, code: 'unknown-alarm', reason: `no alarm "${alarmId}" from device "${deviceId}"` };
    const current = this.#desk(d);
    if (current.state === 'cancelled') return { ok: false, code: 'not-open', reason: `alarm "${alarmId}" was cancelled on the device (the nurse's double press)` };
    if (current.state !== 'raised' && current.state !== 'notifying') return { ok: true, already: true, alarm: current };
    const now = this.#now();
    const a = this.#action(deviceId, alarmId);
    a.acknowledgedBy = by;
    a.acknowledgedAt = now;
    a.history.push({ at: now, state: 'acknowledged', by });
    const sent = await this.#commands.send(deviceId, 'alarm.ack', { alarmId }, { by });
    a.ackCommand = { requestId: sent.requestId, sentAt: sent.sentAt };
    this.#acks.set(sent.requestId, key(deviceId, alarmId));
    const alarm = this.#desk(d);
    this.emit('change', alarm);
    return { ok: true, already: false, alarm };
  }

  async resolve(deviceId: string, alarmId: string, by: string, note: string): Promise<DeskActionResult> {
    const d = await this.#store.alarm(deviceId, alarmId);
    if (d === undefined) return { ok: false, code: 'unknown-alarm', reason: `no alarm "${alarmId}" from device "${deviceId}"` };
    const current = this.#desk(d);
    if (current.state === 'cancelled') return { ok: false, code: 'not-open', reason: `alarm "${alarmId}" was cancelled on the device (the nurse's double press)` };
    if (current.state === 'resolved') return { ok: true, already: true, alarm: current };
    const now = this.#now();
    const a = this.#action(deviceId, alarmId);
    a.resolvedBy = by;
    a.resolvedAt = now;
    a.note = note;
    a.history.push({ at: now, state: 'resolved', by, note });
    await this.#commands.send(deviceId, 'alarm.resolve', { alarmId }, { by });
    const alarm = this.#desk(d);
    this.emit('change', alarm);
    return { ok: true, already: false, alarm };
  }

  close(): void {
    this.#ingest.off('stored', this.#onStored);
  }

  #action(deviceId: string, alarmId: string): Action {
    const k = key(deviceId, alarmId);
    let a = this.#actions.get(k);
    if (a === undefined) {
      a = { history: [] };
      this.#actions.set(k, a);
    }
    return a;
  }

  async #changed(deviceId: string, alarmId: string): Promise<void> {
    const alarm = await this.get(deviceId, alarmId).catch(() => undefined);
    if (alarm !== undefined) this.emit('change', alarm);
  }

  /** The desk's view: the device's facts, with who acknowledged and resolved here. */
  #desk(d: AlarmDetail): DeskAlarm {
    const a = this.#actions.get(key(d.deviceId, d.alarmId));
    const deviceAck = d.history.find((h) => h.state === 'acknowledged');
    const deviceEnd = d.history.find((h) => h.state === 'cancelled' || h.state === 'resolved');
    let state: DeskState = 'raised';
    if (a?.acknowledgedAt !== undefined || d.state === 'acknowledged') state = 'acknowledged';
    if (a?.resolvedAt !== undefined || d.state === 'resolved') state = 'resolved';
    if (d.state === 'cancelled') state = 'cancelled';
    const history: DeskAlarm['history'] = [{ at: d.firstRx, state: 'raised' }, ...(a?.history ?? [])];
    if (deviceEnd?.state === 'cancelled') history.push({ at: deviceEnd.rx, state: 'cancelled', by: 'device' });
    history.sort((x, y) => x.at - y.at);
    const out: DeskAlarm = {
      deviceId: d.deviceId, alarmId: d.alarmId, state, deviceState: d.state, raisedAt: d.raisedAt, receivedAt: d.firstRx,
      trigger: d.trigger, resends: d.resends, tier: 0, history, attempts: [],
    };
    if (deviceAck !== undefined) out.deviceAcknowledgedAt = deviceAck.rx;
    if (d.lastFix !== undefined) out.lastFix = d.lastFix;
    if (d.batteryPct !== undefined) out.batteryPct = d.batteryPct;
    if (a?.acknowledgedBy !== undefined) {
      out.acknowledgedBy = a.acknowledgedBy;
      out.acknowledgedAt = a.acknowledgedAt;
    }
    if (a?.resolvedBy !== undefined) {
      out.resolvedBy = a.resolvedBy;
      out.resolvedAt = a.resolvedAt;
      out.note = a.note;
    }
    if (a?.ackCommand !== undefined) out.ackCommand = { ...a.ackCommand };
    return out;
  }
}

