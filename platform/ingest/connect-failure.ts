/** Why a connection to the broker failed, and whether retrying can fix it. */
export interface ConnectFailure {
  kind: 'unreachable' | 'tls' | 'bad-credentials' | 'not-authorized' | 'identifier-rejected' | 'protocol' | 'unavailable' | 'closed';
  /** true: retrying will not fix it (credentials, certificates, ACL), so the process should exit and say why. */
  fatal: boolean;
  message: string;
  /** What to check. */
  hint?: string;
}

/** CONNACK return codes of MQTT 3.1.1 (§3.2.2.3). */
const V4: Record<number, [ConnectFailure['kind'], string]> = {
  1: ['protocol', 'unacceptable protocol version'],
  2: ['identifier-rejected', 'client identifier rejected'],
  3: ['unavailable', 'server unavailable'],
  4: ['bad-credentials', 'bad user name or password'],
  5: ['not-authorized', 'not authorized'],
};
/** CONNACK reason codes of MQTT 5 (§3.2.2.2) that mean a refusal. */
const V5: Record<number, [ConnectFailure['kind'], string]> = {
  0x80: ['unavailable', 'unspecified error'],
  0x84: ['protocol', 'unsupported protocol version'],
  0x85: ['identifier-rejected', 'client identifier not valid'],
  0x86: ['bad-credentials', 'bad user name or password'],
  0x87: ['not-authorized', 'not authorized'],
  0x88: ['unavailable', 'server unavailable'],
  0x89: ['unavailable', 'server busy'],
  0x8a: ['not-authorized', 'banned'],
  0x8c: ['bad-credentials', 'bad authentication method'],
  0x97: ['unavailable', 'quota exceeded'],
  0x9f: ['unavailable', 'connection rate exceeded'],
};

const HINTS: Partial<Record<ConnectFailure['kind'], string>> = {
  'bad-credentials': 'check the user name and password file given to the ingest',
  'not-authorized': 'the broker does not let this identity in: check its ACL / certificate CN',
  'identifier-rejected': 'the broker rejected the client id: give another with --client-id',
  tls: 'check --ca (the broker certificate must chain to it and name the host) and --cert/--key',
  unreachable: 'is the broker running, and is the URL (host, port, mqtt:// or mqtts://) right?',
};

/** Certificate and handshake errors of node:tls / OpenSSL: a configuration problem, not a transient one. */
function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME/.test(code);
}

/**
 * Classifies a failed connection from the error's code or the CONNACK's code,
 * never from message text: a refused or unreachable broker is retried; bad
 * credentials, a refused certificate or an ACL refusal are fatal.
 */
export function connectFailure(err: (Error & { code?: string }) | { connack: number; protocolVersion: 4 | 5 }, url: string): ConnectFailure {
  if ('connack' in err) {
    const [kind, text] = (err.protocolVersion === 5 ? V5 : V4)[err.connack] ?? ['unavailable', `code ${err.connack}`];
    const fatal = kind === 'bad-credentials' || kind === 'not-authorized' || kind === 'identifier-rejected' || kind === 'protocol';
    return { kind, fatal, message: `broker ${url} refused the connection: ${text} (CONNACK ${err.connack})`, hint: HINTS[kind] };
  }
  const code = err.code ?? '';
  if (isTlsCode(code)) return { kind: 'tls', fatal: true, message: `TLS with ${url} failed: ${err.message} (${code})`, hint: HINTS.tls };
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT'].includes(code)) {
    return { kind: 'unreachable', fatal: false, message: `broker ${url} unreachable: ${code}`, hint: HINTS.unreachable };
  }
  return { kind: 'closed', fatal: false, message: `connection to ${url} lost: ${err.message}${code ? ` (${code})` : ''}` };
}
