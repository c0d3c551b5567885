import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from './load.js';

describe('config', () => {
  it('fills every default from a minimal config', () => {
    const c = resolveConfig({ deviceId: 'rec-1' });
    expect(c.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    expect(c.gps.baudRate).toBe(9600);
    expect(c.button.sosHoldMs).toBe(1500);
    expect(c.transport.partBytes).toBe('auto');
    expect(c.dataDir).toBe('/var/lib/nrec');
  });

  it('names the bad path and the rule', () => {
    expect(() => resolveConfig({ deviceId: 'rec-1', gps: { baudRate: 12 } })).toThrow(/\/gps\/baudRate/);
    expect(() => resolveConfig({ deviceId: 'bad id' })).toThrow(/\/deviceId: device id "bad id" is not valid: use 1-64 of/);
    expect(() => resolveConfig({})).toThrow(/deviceId/);
    expect(() => resolveConfig({ deviceId: 'a', mqtt: { nope: 1 } })).toThrow(/\/mqtt\/nope/);
    expect(() => resolveConfig([])).toThrow(ConfigError);
  });
});

describe('device id', () => {
  it('refuses the names the platform store uses for its own folders, in any case, and a leading underscore', () => {
    for (const id of ['keys', 'Keys', 'EVIDENCE', 'evidence']) expect(() => resolveConfig({ deviceId: id }), id).toThrow(/\/deviceId: device id ".*" is reserved/);
    for (const id of ['_rejected', '_incoming', '_x']) expect(() => resolveConfig({ deviceId: id }), id).toThrow(/\/deviceId: .* may not start with "_"/);
    for (const id of ['keys-1', 'my_evidence', 'rec-_1', 'k']) expect(resolveConfig({ deviceId: id }).deviceId).toBe(id);
  });
});

describe('configuration reference', () => {
  it('docs/configuration.md matches the schema (run `npm run gen:docs` after changing it)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { configReference } = await import('./config-doc.js');
    const onDisk = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    expect(onDisk).toBe(configReference());
    expect(onDisk).toContain('`transport.partBytes`');
  });
});
