import { describe, expect, it } from 'vitest';
import { parseListen } from './listen-address.js';

describe('parseListen', () => {
  it('reads HOST:PORT, [v6]:PORT and a bare port (loopback)', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListen('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('refuses what is not an address, saying what to give', () => {
    for (const bad of ['', 'host', '127.0.0.1:', '127.0.0.1:99999', '::1:80', 'a b:1']) expect(() => parseListen(bad), bad).toThrow(/is not HOST:PORT/);
  });
});
