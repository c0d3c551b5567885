import { describe, expect, it } from 'vitest';
import { ackProblem, connackProblem, socketProblem } from './connection-problem.js';

const ctx = { host: 'broker', port: 8883, clientId: 'rec-1', tls: true, clientCert: true };

describe('connection problems, from codes', () => {
  it('reads MQTT 3.1.1 return codes and MQTT 5 reason codes alike', () => {
    for (const [v311, v5, kind] of [[5, 0x87, 'not-authorized'], [4, 0x86, 'bad-credentials'], [2, 0x85, 'client-id-rejected'], [1, 0x84, 'protocol-version'], [3, 0x88, 'server-unavailable']] as const) {
      expect(connackProblem(v311, ctx).kind, `3.1.1 code ${v311}`).toBe(kind);
      expect(connackProblem(v5, ctx).kind, `5 code ${v5}`).toBe(kind);
    }
    expect(connackProblem(5, ctx).cause).toBe('broker refused the connection: not authorized (CONNACK code 5)');
    expect(connackProblem(0x87, { ...ctx, clientCert: false }).check).toMatch(/no client certificate is configured/);
    expect(connackProblem(0x99, ctx)).toMatchObject({ kind: 'refused-by-broker', cause: 'broker refused the connection: refused (CONNACK code 153)' });
  });

  it('names a refused own topic as an ACL that does not match the device', () => {
    expect(ackProblem(0x87, 'nrec/v1/rec-1/status', ctx)).toMatchObject({ kind: 'not-authorized', cause: 'broker refused nrec/v1/rec-1/status: not authorized (reason code 135)' });
  });

  it('tells the TLS failures apart by their codes', () => {
    expect(socketProblem('ECONNREFUSED', ctx).kind).toBe('refused');
    expect(socketProblem('ENOTFOUND', ctx).kind).toBe('dns');
    expect(socketProblem('SELF_SIGNED_CERT_IN_CHAIN', ctx)).toMatchObject({ kind: 'tls-server-untrusted', check: expect.stringContaining('mqtt.caFile') });
    expect(socketProblem('ERR_TLS_CERT_ALTNAME_INVALID', ctx).kind).toBe('tls-server-name');
    expect(socketProblem('CERT_HAS_EXPIRED', ctx).check).toMatch(/clock/);
    expect(socketProblem('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', ctx).cause).toMatch(/rejected our client certificate/);
    expect(socketProblem('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', { ...ctx, clientCert: false }).cause).toMatch(/no client certificate was sent/);
    expect(socketProblem('ERR_SSL_WRONG_VERSION_NUMBER', ctx).kind).toBe('tls');
    expect(socketProblem(undefined, ctx).kind).toBe('other');
  });
});
