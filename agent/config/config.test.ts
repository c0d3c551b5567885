import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from './load.js';

describe('config', () => {
  it('fills every default from a minimal config', () => {
    const c = resolveConfig({ deviceId: 'rec-1' });
    expect(c.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    expect(c.gps.baudRate).toBe(9600);
    expect(c.button.sosHoldMs).toBe(1500);
    expect(c.transport.partBytes).toBe(16 * 1024);
    expect(c.dataDir).toBe('/var/lib/nrec');
  });

  it('names the bad path and the rule', () => {
    expect(() => resolveConfig({ deviceId: 'rec-1', gps: { baudRate: 12 } })).toThrow(/\/gps\/baudRate/);
    expect(() => resolveConfig({ deviceId: 'bad id' })).toThrow(/\/deviceId: Expected string to match/);
    expect(() => resolveConfig({})).toThrow(/deviceId/);
    expect(() => resolveConfig({ deviceId: 'a', mqtt: { nope: 1 } })).toThrow(/\/mqtt\/nope/);
    expect(() => resolveConfig([])).toThrow(ConfigError);
  });
});
