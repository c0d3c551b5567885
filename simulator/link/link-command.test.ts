import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../lib/cli-args.js';
import { main, parseTarget } from './link-command.js';

describe('nrec link', () => {
  it('parses HOST:PORT, PORT and :PORT targets', () => {
    expect(parseTarget('broker.local:8883')).toEqual({ host: 'broker.local', port: 8883 });
    expect(parseTarget('1883')).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(parseTarget(':1883')).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(() => parseTarget('host:99999')).toThrow(/HOST:PORT/);
  });

  it('says what is wrong on bad arguments (a usage error), exits 1 on a rate the link rejects', async () => {
    await expect(main(['--up', '100'])).rejects.toThrow(UsageError);
    await expect(main(['--up', '100'])).rejects.toThrow(/--target HOST:PORT is required/);
    await expect(main(['--target', ':1883', '--latency', 'soon'])).rejects.toThrow(/--latency must be a non-negative number/);
    await expect(main(['--target', ':1883', '--frobnicate'])).rejects.toThrow(/unknown option "--frobnicate"/);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['--target', ':1883', '--up', '0'])).toBe(1);
      expect(String(err.mock.calls[0][0])).toMatch(/link rate must be a positive number/);
    } finally {
      err.mockRestore();
    }
  });
});
