import { describe, expect, it } from 'vitest';
import { connectionState } from './device-state.js';

describe('connectionState', () => {
  const now = 1_000_000;
  const silence = 120_000;

  it('is offline by the will or a shutdown whatever came since, by silence past the limit, or when never seen', () => {
    expect(connectionState({ presence: { state: 'offline' }, lastSeen: now }, now, silence)).toEqual({ status: 'offline', offlineCause: 'will' });
    expect(connectionState({ presence: { state: 'shutdown' }, lastSeen: now }, now, silence)).toEqual({ status: 'offline', offlineCause: 'shutdown' });
    expect(connectionState({ presence: { state: 'online' }, lastSeen: now - silence - 1 }, now, silence)).toEqual({ status: 'offline', offlineCause: 'silent' });
    expect(connectionState({ lastSeen: now - silence - 1 }, now, silence)).toEqual({ status: 'offline', offlineCause: 'silent' });
    expect(connectionState({ presence: { state: 'online' } }, now, silence)).toEqual({ status: 'offline', offlineCause: 'never-seen' });
    expect(connectionState({}, now, silence)).toEqual({ status: 'offline', offlineCause: 'never-seen' });
  });

  it('is online with a birth (or none) and a message within the limit, the limit itself included', () => {
    expect(connectionState({ presence: { state: 'online' }, lastSeen: now - silence }, now, silence)).toEqual({ status: 'online' });
    expect(connectionState({ lastSeen: now }, now, silence)).toEqual({ status: 'online' });
  });
});
