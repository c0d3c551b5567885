import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from './load.js';

function problemsOf(raw: unknown): Array<{ path: string; message: string }> {
  try {
    resolveConfig(raw, 'test.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('config was accepted');
}

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

  it('reports every problem at once, each with its path, in one error', () => {
    const problems = problemsOf({ deviceId: 'bad id', gps: { baudRate: 'fast' }, mqtt: { nope: 1, keepaliveS: 1 } });
    expect(problems.map((p) => p.path)).toEqual(['/deviceId', '/mqtt/nope', '/mqtt/keepaliveS', '/gps/baudRate']);
    // A union says what it accepts instead of "Expected union value".
    expect(problems[3].message).toMatch(/expected an integer ≥ 1200, ≤ 921600 or "auto" \(got "fast"\)/);
    try {
      resolveConfig({ deviceId: 'bad id', gps: { baudRate: 'fast' } }, 'agent.json');
    } catch (err) {
      expect((err as Error).message).toMatch(/^agent\.json: 2 problems:\n {2}\/deviceId: .*\n {2}\/gps\/baudRate: /);
    }
  });

  it('refuses a URL that is not one, or has a scheme the agent does not speak', () => {
    expect(problemsOf({ deviceId: 'a', mqtt: { url: 'not a url' } })).toEqual([{ path: '/mqtt/url', message: expect.stringMatching(/is not a URL; write it as mqtt:\/\//) }]);
    expect(problemsOf({ deviceId: 'a', mqtt: { url: 'http://broker:1883' } })[0].message).toMatch(/scheme "http:" .*mqtt:\/\/, mqtts:\/\/, ws:\/\/, wss:\/\//);
    for (const url of ['mqtt://b:1883', 'mqtts://b:8883', 'ws://b:8080/mqtt', 'wss://b/mqtt']) expect(resolveConfig({ deviceId: 'a', mqtt: { url } }).mqtt.url).toBe(url);
  });

  it('checks fields against each other: backoff, bulk rates, certificate and key, TLS files without TLS', () => {
    expect(problemsOf({ deviceId: 'a', mqtt: { backoffMinMs: 5000, backoffMaxMs: 1000 } })).toEqual([{ path: '/mqtt/backoffMinMs', message: expect.stringMatching(/5000 is above \/mqtt\/backoffMaxMs \(1000\)/) }]);
    expect(problemsOf({ deviceId: 'a', transport: { bulkMinKbps: 900, bulkMaxKbps: 100 } })[0].path).toBe('/transport/bulkMinKbps');
    const dir = mkdtempSync(join(tmpdir(), 'nrec-config-'));
    const cert = join(dir, 'c.pem');
    writeFileSync(cert, 'x');
    expect(problemsOf({ deviceId: 'a', mqtt: { url: 'mqtts://b', certFile: cert } })).toEqual([{ path: '/mqtt/keyFile', message: expect.stringMatching(/required with \/mqtt\/certFile/) }]);
    expect(problemsOf({ deviceId: 'a', mqtt: { url: 'mqtt://b', caFile: cert } })).toEqual([{ path: '/mqtt/caFile', message: expect.stringMatching(/mqtt:\/\/ does not use TLS/) }]);
  });

  it('names the field of a secret file that is missing', () => {
    const problems = problemsOf({ deviceId: 'a', mqtt: { url: 'mqtts://b', passwordFile: '/nonexistent/pw', caFile: '/nonexistent/ca.pem', certFile: '/nonexistent/c.pem', keyFile: '/nonexistent/k.pem' } });
    expect(problems).toEqual(['passwordFile', 'caFile', 'certFile', 'keyFile'].map((f) => ({ path: `/mqtt/${f}`, message: expect.stringMatching(/^\/nonexistent\/\S+ does not exist$/) })));
  });

  it('refuses a line name with the sysfs backend, with the fix', () => {
    // The defaults (gpiod backend, line "GPIO17") are fine; switching only the backend is the trap.
    expect(() => resolveConfig({ deviceId: 'a' })).not.toThrow();
    const problems = problemsOf({ deviceId: 'a', button: { backend: 'sysfs' } });
    expect(problems).toEqual([{ path: '/button/line', message: expect.stringMatching(/sysfs backend takes a line offset, not the name "GPIO17": set it to 17 .*or use "backend": "gpiod"/) }]);
    expect(problemsOf({ deviceId: 'a', button: { backend: 'sysfs', line: 17, feedbackLine: 'LED' } })[0].path).toBe('/button/feedbackLine');
    expect(resolveConfig({ deviceId: 'a', button: { backend: 'sysfs', line: 17 } }).button.line).toBe(17);
    expect(resolveConfig({ deviceId: 'a', button: { backend: 'sysfs', line: '17' } }).button.line).toBe('17');
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
    const { configReference } = await import('./config-doc.js');
    const onDisk = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    expect(onDisk).toBe(configReference());
    expect(onDisk).toContain('`transport.partBytes`');
  });
});
