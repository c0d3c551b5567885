import { describe, expect, it } from 'vitest';
import { applyStatuses, NO_PRESENCE, type StatusInput } from './presence.js';

const s = (state: StatusInput['state'], bootId: string, rx: number, extra: Partial<StatusInput> = {}): StatusInput => ({ state, bootId, rx, ...extra });

describe('presence rule', () => {
  it('takes births, and wills of the latest birth, in order', () => {
    const { row, stale } = applyStatuses(NO_PRESENCE, [s('online', 'b1', 1, { agentVersion: '1.0' }), s('offline', 'b1', 2, { reason: 'lost' })]);
    expect(row).toEqual({ presence: 'offline', presence_boot_id: 'b1', presence_at: 2, presence_reason: 'lost', birth_boot_id: 'b1', agent_version: '1.0' });
    expect(stale).toEqual([]);
  });

  it('ignores a will or shutdown of another boot than the latest birth', () => {
    const start = applyStatuses(NO_PRESENCE, [s('online', 'b2', 5, { agentVersion: '2.0' })]).row;
    const { row, stale } = applyStatuses(start, [s('offline', 'b1', 6), s('shutdown', 'b1', 7)]);
    expect(row).toBe(start);
    expect(stale.map((x) => x.state)).toEqual(['offline', 'shutdown']);
  });

  it('takes a will when no birth is known, and keeps the agent version of the last birth that named one', () => {
    expect(applyStatuses(NO_PRESENCE, [s('offline', 'b1', 1)]).row).toMatchObject({ presence: 'offline', presence_boot_id: 'b1', birth_boot_id: null });
    const r = applyStatuses(NO_PRESENCE, [s('online', 'b1', 1, { agentVersion: '1.0' }), s('online', 'b2', 2)]).row;
    expect(r).toMatchObject({ presence: 'online', presence_boot_id: 'b2', agent_version: '1.0', presence_reason: null });
  });
});
