import { describe, expect, it } from 'vitest';
import { alarmTimeline, deskView, deviceSide, SHOW_CLOSED_MS } from './desk.js';
import type { ApiAlarm } from './types.js';

const alarm = (id: string, o: Partial<ApiAlarm> = {}): ApiAlarm => ({
  deviceId: 'd1', alarmId: id, state: 'raised', deviceState: 'raised', raisedAt: 1000, receivedAt: 1100, trigger: 'button', resends: 0,
  tier: 0, history: [{ at: 1100, state: 'raised' }], attempts: [], ...o,
});

describe('the desk', () => {
  it('puts unacknowledged alarms on top, the one waiting longest first; then those in hand; cancelled and resolved ones for a while', () => {
    const now = 100_000;
    const v = deskView([
      alarm('late', { raisedAt: 5000 }),
      alarm('early', { state: 'notifying', raisedAt: 2000 }),
      alarm('taken', { state: 'acknowledged', acknowledgedAt: 6000 }),
      alarm('gone', { state: 'cancelled', history: [{ at: 1100, state: 'raised' }, { at: now - 1000, state: 'cancelled' }] }),
      alarm('old', { state: 'cancelled', history: [{ at: 1100, state: 'raised' }, { at: now - SHOW_CLOSED_MS - 1, state: 'cancelled' }] }),
      alarm('done', { state: 'resolved', resolvedAt: now - 5000 }),
    ], now);
    expect(v.waiting.map((a) => a.alarmId)).toEqual(['early', 'late']);
    expect(v.inHand.map((a) => a.alarmId)).toEqual(['taken']);
    expect(v.closed.map((a) => a.alarmId)).toEqual(['gone', 'done']);
  });

  it('tells the escalation as a timeline: states with who, every attempt with channel, recipient, result, the ack command and the device\'s answer', () => {
    const a = alarm('x', {
      state: 'acknowledged', deviceState: 'acknowledged', deviceAcknowledgedAt: 9000, resends: 2,
      history: [{ at: 1100, state: 'raised' }, { at: 1200, state: 'notifying' }, { at: 8000, state: 'acknowledged', by: 'Anna' }],
      attempts: [
        { tier: 0, attempt: 0, channel: 'webhook', recipient: 'Ward 3 <ward.example>', key: 'k1', at: 1210, result: 'sent', latencyMs: 12.4 },
        { tier: 1, attempt: 1, channel: 'sms', recipient: 'Manager +49151', key: 'k2', at: 7000, result: 'failed', error: 'HTTP 500' },
      ],
      ackCommand: { requestId: 'r1', sentAt: 8001, status: 'ok', answeredAt: 8500 },
    });
    expect(alarmTimeline(a).map((e) => [e.at, e.tone, e.text])).toEqual([
      [1100, 'info', 'raised'],
      [1200, 'info', 'notifying contacts'],
      [1210, 'ok', 'tier 1 · webhook → Ward 3 <ward.example>: sent, 12 ms'],
      [7000, 'bad', 'tier 2 (repeat 1) · sms → Manager +49151: failed: HTTP 500'],
      [8000, 'ok', 'acknowledged by Anna'],
      [8001, 'info', 'alarm.ack sent to the device'],
      [8500, 'ok', 'device answered alarm.ack: ok'],
      [9000, 'ok', 'the device shows the alarm as acknowledged'],
    ]);
    expect(deviceSide(a)).toBe('acknowledged on the device, 2 re-sends');
  });
});
