import { describe, expect, it, vi } from 'vitest';
import { main, parseTarget } from './link-command.js';

describe('nrec link', () => {
  it('parses HOST:PORT, PORT and :PORT targets', () => {
    expect(parseTarget('broker.local:8883')).toEqual({ host: 'broker.local', port: 8883 });
    expect(parseTarget('1883')).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(parseTarget(':1883')).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(() => parseTarget('host:99999')).toThrow(/HOST:PORT/);
  });

  it('exits with 2 and says what is wrong on bad arguments, 1 on a rate the link rejects', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['--up', '100'])).toBe(2);
      expect(String(err.mock.calls[0][0])).toMatch(/--target HOST:PORT is required/);
      expect(await main(['--target', ':1883', '--latency', 'soon'])).toBe(2);
      expect(String(err.mock.calls[1][0])).toMatch(/--latency must be a non-negative number/);
      expect(await main(['--target', ':1883', '--up', '0'])).toBe(1);
      expect(String(err.mock.calls[2][0])).toMatch(/link rate must be a positive number/);
    } finally {
      err.mockRestore();
    }
  });
});
