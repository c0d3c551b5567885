import type { Fix } from '../../protocol/index.js';
import type { DeviceAlarmState } from '../store/views.js';

/*
 * The alarm desk's contract, between the desk (platform/desk/), the command
 * sender (platform/commands/) and the HTTP API / console (platform/api/).
 * The desk owns the platform's view of an alarm — a state machine persisted in
 * the store, escalation to emergency contacts, every notification attempt —
 * beside the device's own view (AlarmView in the store).
 */

/** The desk's states: raised → notifying → acknowledged → resolved, or cancelled (the nurse's double press). */
export type DeskState = 'raised' | 'notifying' | 'acknowledged' | 'resolved' | 'cancelled';

export type ChannelKind = 'webhook' | 'email' | 'sms' | 'console';

/** One notification attempt: what was sent to whom, when, and how it went. */
export interface NotificationAttempt {
  /** Escalation step (0 = first tier) and the attempt number within it (re-notification, retries). */
  tier: number;
  attempt: number;
  channel: ChannelKind;
  /** Contact name and address (URL host, e-mail address, phone number) — never a secret. */
  recipient: string;
  /** Idempotency key sent with it: `${deviceId}/${alarmId}:${tier}:${attempt}:${channel}:${contactId}` (contact ids come from the contacts file). */
  key: string;
  at: number;
  result: 'pending' | 'sent' | 'failed';
  latencyMs?: number;
  error?: string;
  /** Tries it took (retries of a webhook or SMS gateway call); 0 while pending. */
  tries?: number;
}

/** An alarm as the desk shows it. */
export interface DeskAlarm {
  deviceId: string;
  alarmId: string;
  state: DeskState;
  /** What the device last reported (its own state machine), and when the device confirmed the ack. */
  deviceState: DeviceAlarmState;
  deviceAcknowledgedAt?: number;
  raisedAt: number;
  /** When the desk first stored it. */
  receivedAt: number;
  trigger: 'button' | 'command' | 'test';
  resends: number;
  lastFix?: Fix;
  batteryPct?: number;
  /** Current escalation step and when the next one is due (while raised/notifying). */
  tier: number;
  nextStepAt?: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
  resolvedBy?: string;
  resolvedAt?: number;
  note?: string;
  /** Every state change, oldest first. */
  history: Array<{ at: number; state: DeskState; by?: string; note?: string }>;
  attempts: NotificationAttempt[];
  /** The alarm.ack command sent to the device, and the device's result (when it came). */
  ackCommand?: { requestId: string; sentAt: number; status?: string; reason?: string; answeredAt?: number };
}

export type DeskActionResult =
  | { ok: true; alarm: DeskAlarm; already: boolean }
  | { ok: false; code: 'unknown-alarm' | 'ambiguous-alarm' | 'not-open' | 'invalid'; reason: string };

export interface AlarmDeskEvents {
  /** Anything about an alarm changed (state, an attempt, the device's answer): the live stream sends it on. */
  change: [DeskAlarm];
}

/** What the API and the CLI call on the desk. */
export interface AlarmDeskApi {
  /** Newest received first; `open`: not resolved or cancelled; from/to bound the time the desk received the alarm; limit default 200. */
  list(filter?: { open?: boolean; deviceId?: string; from?: number; to?: number; limit?: number }): Promise<DeskAlarm[]>;
  get(deviceId: string, alarmId: string): Promise<DeskAlarm | undefined>;
  /** Records who acknowledged, stops the escalation, sends alarm.ack to the device. Twice is harmless (already: true). */
  acknowledge(deviceId: string, alarmId: string, by: string): Promise<DeskActionResult>;
  /** Closes an acknowledged (or open) alarm with a note; sends alarm.resolve to the device. */
  resolve(deviceId: string, alarmId: string, by: string, note: string): Promise<DeskActionResult>;
  on<E extends keyof AlarmDeskEvents>(event: E, listener: (...args: AlarmDeskEvents[E]) => void): unknown;
  off<E extends keyof AlarmDeskEvents>(event: E, listener: (...args: AlarmDeskEvents[E]) => void): unknown;
}

/** A command the platform sent to a device, and the device's answer. */
export interface SentCommand {
  requestId: string;
  deviceId: string;
  name: string;
  args: Record<string, unknown>;
  by?: string;
  sentAt: number;
  expiresAt: number;
  /** pending until the device's result is stored. */
  status: 'pending' | 'ok' | 'error' | 'refused' | 'expired' | 'unknown';
  reason?: string;
  result?: unknown;
  answeredAt?: number;
}

/**
 * Sends commands to devices durably: recorded in the store first, published
 * (QoS 1, on the device's persistent session), re-published until the device
 * answers or the command expires, matched with the device's result.
 */
export interface CommandSenderApi {
  send(deviceId: string, name: string, args?: Record<string, unknown>, opts?: { by?: string; ttlMs?: number; requestId?: string }): Promise<SentCommand>;
  get(requestId: string): Promise<SentCommand | undefined>;
  list(deviceId: string, opts?: { limit?: number }): Promise<SentCommand[]>;
  /** Resolves with the command once the device answered (or it expired), or undefined at the timeout. */
  waitForResult(requestId: string, timeoutMs: number): Promise<SentCommand | undefined>;
}
