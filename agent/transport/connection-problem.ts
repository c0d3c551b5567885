// Why a connection to the broker failed, in words an operator can act on:
// the cause and what to check. Decided from error codes (socket and TLS codes
// from Node, CONNACK/PUBACK reason codes from MQTT), never from message text.

/** What went wrong, coarse enough that a repeat of the same failure is recognised as one state. */
export type ProblemKind =
  | 'refused'
  | 'unreachable'
  | 'dns'
  | 'reset'
  | 'no-answer'
  | 'tls-server-untrusted'
  | 'tls-server-name'
  | 'tls-server-expired'
  | 'tls-client-rejected'
  | 'tls'
  | 'not-authorized'
  | 'bad-credentials'
  | 'client-id-rejected'
  | 'protocol-version'
  | 'server-unavailable'
  | 'banned'
  | 'refused-by-broker'
  | 'other';

export interface ConnectionProblem {
  kind: ProblemKind;
  /** The failure in one phrase, with its code. */
  cause: string;
  /** What to check to fix it. */
  check: string;
}

export interface ProblemContext {
  host: string;
  port: number;
  clientId: string;
  /** Whether the connection uses TLS (mqtts://, wss://). */
  tls: boolean;
  /** Whether a client certificate was configured. */
  clientCert: boolean;
}

/** MQTT 3.1.1 CONNACK return codes (1-5) and MQTT 5 reason codes (0x80+) do not overlap, so one table serves both. */
const CONNACK: Record<number, [ProblemKind, string]> = {
  1: ['protocol-version', 'unacceptable protocol version'],
  2: ['client-id-rejected', 'identifier rejected'],
  3: ['server-unavailable', 'server unavailable'],
  4: ['bad-credentials', 'bad user name or password'],
  5: ['not-authorized', 'not authorized'],
  0x80: ['refused-by-broker', 'unspecified error'],
  0x81: ['refused-by-broker', 'malformed packet'],
  0x82: ['protocol-version', 'protocol error'],
  0x83: ['refused-by-broker', 'implementation specific error'],
  0x84: ['protocol-version', 'unsupported protocol version'],
  0x85: ['client-id-rejected', 'client identifier not valid'],
  0x86: ['bad-credentials', 'bad user name or password'],
  0x87: ['not-authorized', 'not authorized'],
  0x88: ['server-unavailable', 'server unavailable'],
  0x89: ['server-unavailable', 'server busy'],
  0x8a: ['banned', 'banned'],
  0x8c: ['bad-credentials', 'bad authentication method'],
  0x97: ['server-unavailable', 'quota exceeded'],
  0x9c: ['server-unavailable', 'use another server'],
  0x9d: ['server-unavailable', 'server moved'],
  0x9f: ['server-unavailable', 'connection rate exceeded'],
};

const TLS_SERVER_UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA',
]);
const TLS_SERVER_EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** Alerts the broker sends when it does not accept our client certificate (or we sent none). */
const TLS_CLIENT_REJECTED = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
]);

/** A CONNACK refusal (3.1.1 return code or 5.0 reason code). */
export function connackProblem(code: number, ctx: ProblemContext): ConnectionProblem {
  const [kind, text] = CONNACK[code] ?? ['refused-by-broker', 'refused'];
  const cause = `broker refused the connection: ${text} (CONNACK code ${code})`;
  switch (kind) {
    case 'not-authorized':
      return { kind, cause, check: `the broker does not let client id "${ctx.clientId}" connect: check the device is enrolled and that its deviceId matches its certificate's CN${ctx.clientCert ? '' : ' (no client certificate is configured: set mqtt.certFile and mqtt.keyFile)'} or its username in the broker's ACL` };
    case 'bad-credentials':
      return { kind, cause, check: 'check mqtt.username and the password in mqtt.passwordFile against the broker\'s password file' };
    case 'client-id-rejected':
      return { kind, cause, check: `the broker rejects the client id "${ctx.clientId}" (the deviceId): check its length and characters are allowed by the broker` };
    case 'protocol-version':
      return { kind, cause, check: 'the broker does not speak the MQTT version asked for: set mqtt.protocolVersion to 4 (3.1.1) or "auto"' };
    case 'banned':
      return { kind, cause, check: 'the broker has banned this client: ask the platform operator' };
    case 'server-unavailable':
      return { kind, cause, check: 'the broker is up but not taking connections now: nothing to fix on the device; it retries' };
    default:
      return { kind, cause, check: "see the broker's log for why it refused this client" };
  }
}

/** A PUBACK/SUBACK refusal while setting the session up (birth, subscription): an ACL that does not match the device. */
export function ackProblem(code: number, topic: string, ctx: ProblemContext): ConnectionProblem {
  const [kind, text] = CONNACK[code] ?? ['refused-by-broker', 'refused'];
  return {
    kind: kind === 'not-authorized' ? 'not-authorized' : 'refused-by-broker',
    cause: `broker refused ${topic}: ${text} (reason code ${code})`,
    check: kind === 'not-authorized'
      ? `the broker's ACL does not give "${ctx.clientId}" its own topics: the deviceId must equal the certificate's CN (or the username) the ACL is keyed on`
      : "see the broker's log for why it refused",
  };
}

/** A socket or TLS error before the session was up. */
export function socketProblem(code: string | undefined, ctx: ProblemContext): ConnectionProblem {
  const at = `${ctx.host}:${ctx.port}`;
  if (code === 'ECONNREFUSED') return { kind: 'refused', cause: `connection refused by ${at} (ECONNREFUSED)`, check: `is the broker running and listening on port ${ctx.port}? is mqtt.url right?` };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'dns', cause: `host name ${ctx.host} does not resolve (${code})`, check: 'check the host in mqtt.url and the DNS of the modem/network' };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || code === 'ENETDOWN') {
    return { kind: 'unreachable', cause: `${at} is not reachable (${code})`, check: 'check the network link (modem, SIM, Wi-Fi) and any firewall between the device and the broker' };
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return {
      kind: 'reset',
      cause: `${at} closed the connection (${code})`,
      check: ctx.tls ? 'a TLS listener that rejects the client certificate may do this: check mqtt.certFile/keyFile were issued by the CA the broker trusts' : 'is it an MQTT port (not TLS or WebSocket)?',
    };
  }
  if (code !== undefined && TLS_SERVER_UNTRUSTED.has(code)) {
    return { kind: 'tls-server-untrusted', cause: `the broker's certificate is not trusted (${code})`, check: "set mqtt.caFile to the CA that signed the broker's certificate" };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { kind: 'tls-server-name', cause: `the broker's certificate is not for ${ctx.host} (${code})`, check: "use the host name the broker's certificate names in mqtt.url" };
  if (code !== undefined && TLS_SERVER_EXPIRED.has(code)) return { kind: 'tls-server-expired', cause: `the broker's certificate is expired or not yet valid (${code})`, check: 'check the device clock (GPS time or NTP) and the certificate dates' };
  if (code !== undefined && TLS_CLIENT_REJECTED.has(code)) {
    return {
      kind: 'tls-client-rejected',
      cause: `the broker rejected ${ctx.clientCert ? 'our client certificate' : 'the connection: no client certificate was sent'} (${code})`,
      check: ctx.clientCert ? 'check mqtt.certFile was issued by the CA the broker trusts and has not expired or been revoked' : 'set mqtt.certFile and mqtt.keyFile to the device certificate and key',
    };
  }
  if (code !== undefined && code.startsWith('ERR_SSL_')) return { kind: 'tls', cause: `TLS handshake failed (${code})`, check: 'check the broker speaks TLS on this port and the TLS files in mqtt.caFile/certFile/keyFile' };
  if (code === 'EPROTO') return { kind: 'tls', cause: `TLS handshake failed (${code})`, check: 'is the port a TLS port? mqtts:// needs the broker\'s TLS listener (usually 8883)' };
  return { kind: 'other', cause: `connection failed${code === undefined ? '' : ` (${code})`}`, check: 'see the debug log (logLevel "debug") for the details' };
}

/** The broker took the connection but never answered CONNECT. */
export function noAnswerProblem(ctx: ProblemContext): ConnectionProblem {
  return {
    kind: 'no-answer',
    cause: `${ctx.host}:${ctx.port} accepted the connection but did not answer MQTT CONNECT`,
    check: ctx.tls ? 'is it the broker\'s TLS MQTT port?' : 'is it an MQTT port? a TLS port needs mqtts://',
  };
}
