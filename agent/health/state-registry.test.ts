import { describe, expect, it } from 'vitest';
import { StateRegistry } from './state-registry.js';

describe('StateRegistry', () => {
  it('collects every provider, copied, and names a failing one', () => {
    const r = new StateRegistry();
    const gps = { link: 'connected' };
    r.registerState('gps', () => gps);
    r.registerState('recorder', () => 'idle');
    r.registerState('button', () => {
      throw new Error('line gone');
    });
    const c = r.collect();
    gps.link = 'lost';
    expect(c).toEqual({ gps: { link: 'connected' }, recorder: 'idle', button: { error: 'line gone' } });
    expect(r.names).toEqual(['gps', 'recorder', 'button']);
  });

  it('unregisters only the provider it returned', () => {
    const r = new StateRegistry();
    const off = r.registerState('gps', () => 'a');
    r.registerState('gps', () => 'b');
    off();
    expect(r.collect()).toEqual({ gps: 'b' });
  });

  it('refuses names that cannot be report keys', () => {
    const r = new StateRegistry();
    expect(() => r.registerState('gps link', () => 'x')).toThrow(/gps link.*invalid/);
    expect(() => r.registerState('', () => 'x')).toThrow(/invalid/);
  });
});
