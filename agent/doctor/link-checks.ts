import { X509Certificate } from 'node:crypto';
import { chown, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { connectAsync, type IClientOptions } from 'mqtt';
import { Outbox } from '../transport/outbox.js';
import { redactUrl } from '../transport/mqtt-session.js';
import { sessionFromConfig } from '../transport/session-config.js';
import { fail, pass, skip, warn, type Check } from './check.js';

/** What a connection failure means and what to do, from the error's code (never its text alone). */
function explain(err: Error & { code?: string | number }, url: string): { summary: string; fix: string } {
  const code = err.code;
  const m = err.message;
  if (code === 'ECONNREFUSED') return { summary: `broker ${url} refused the connection (nothing listens there)`, fix: 'check mqtt.url (host and port: 8883 for mqtts, 1883 for mqtt) and that the broker runs' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { summary: `broker host of ${url} not found`, fix: 'check mqtt.url and the recorder\'s DNS / network (ping the host)' };
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { summary: `broker ${url} unreachable (${code})`, fix: 'check the network (Wi-Fi / LTE) and any firewall between the recorder and the broker' };
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY') return { summary: `the broker's certificate is not trusted (${code})`, fix: 'set mqtt.caFile to the platform\'s CA certificate (/etc/nrec/tls/ca.crt)' };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { summary: 'the broker\'s certificate is for another host name', fix: 'use the host name the broker\'s certificate names in mqtt.url' };
  if (code === 'CERT_HAS_EXPIRED') return { summary: 'the broker\'s certificate has expired (or the recorder\'s clock is far off)', fix: 'check the clock (timedatectl) and ask the platform to renew the broker certificate' };
  if (typeof code === 'string' && code.startsWith('ERR_SSL')) {
    if (/certificate required|handshake failure/i.test(m)) return { summary: `the broker wants a client certificate (${code})`, fix: 'set mqtt.certFile and mqtt.keyFile to the certificate the platform issued for this device' };
    return { summary: `the broker refused our client certificate (${code})`, fix: 'install the certificate the platform\'s CA issued for this device (mqtt.certFile), matching mqtt.keyFile' };
  }
  if (code === 5 || code === 135 || code === 4 || code === 134) return { summary: `the broker refused this device: not authorised (CONNACK ${code})`, fix: 'the certificate / username is not enrolled on the platform, or mqtt.username/passwordFile is wrong' };
  return { summary: `cannot connect to ${url}: ${m}${code === undefined ? '' : ` (${code})`}`, fix: 'check mqtt.url, the network and the TLS settings' };
}

/** Connects as this device would (same URL, TLS and credentials) and asks for its command topic; publishes nothing. */
export const brokerCheck: Check = async ({ config, brokerTimeoutMs }) => {
  if (config === undefined) return skip('broker', 'broker', 'config invalid');
  const url = redactUrl(config.mqtt.url);
  let s;
  try {
    s = await sessionFromConfig(config, undefined, { checkModes: false });
  } catch (err) {
    return fail('broker', 'broker', `cannot read the TLS or password files: ${(err as Error).message}`, 'fix the paths in mqtt.caFile / certFile / keyFile / passwordFile');
  }
  // A client id of its own, so the running agent's session is not taken over.
  const opts: IClientOptions = {
    protocolVersion: 4, clientId: `${config.deviceId}-doctor`, clean: true, reconnectPeriod: 0, connectTimeout: brokerTimeoutMs,
    ...(s.username === undefined ? {} : { username: s.username }), ...(s.password === undefined ? {} : { password: s.password }),
    ...(s.ca === undefined ? {} : { ca: s.ca }), ...(s.cert === undefined ? {} : { cert: s.cert }), ...(s.key === undefined ? {} : { key: s.key }),
  };
  let client;
  try {
    client = await connectAsync(s.url, opts, false);
  } catch (err) {
    const e = explain(err as Error & { code?: string | number }, url);
    return [fail('broker', 'broker', e.summary, e.fix), skip('broker.authorised', 'broker', 'not connected')];
  }
  try {
    const topic = `nrec/v1/${config.deviceId}/cmd/req`;
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    const qos = granted[0]?.qos;
    const connected = pass('broker', 'broker', `connected to ${url}${s.cert ? ' with the client certificate' : ''}`);
    if (qos === undefined || qos >= 3) {
      return [connected, fail('broker.authorised', 'broker', `connected, but the broker refuses "${config.deviceId}" its command topic (SUBACK ${qos ?? '?'})`, `the certificate's CN (or mqtt.username) must be the deviceId "${config.deviceId}", and the platform must have enrolled it`)];
    }
    // Mosquitto's acl_file grants every subscription and filters at delivery, so a granted SUBACK proves little:
    // what the ACL keys on is the identity the broker sees (certificate CN with use_identity_as_username, else the username).
    const identity = s.cert === undefined ? s.username : (/(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(s.cert).subject)?.[1] ?? s.username);
    if (identity === undefined) return [connected, warn('broker.authorised', 'broker', 'connected without a client certificate or username: the broker cannot tie this connection to the device', 'use the client certificate the platform issued (mqtt.certFile, mqtt.keyFile)')];
    if (identity !== config.deviceId) {
      return [connected, fail('broker.authorised', 'broker', `the broker knows this connection as "${identity}", not "${config.deviceId}": it will drop everything published under nrec/v1/${config.deviceId}/ and deliver it no commands`, `the certificate's CN (or mqtt.username) must be the deviceId "${config.deviceId}": install the certificate issued for this device, or correct deviceId`)];
    }
    return [connected, pass('broker.authorised', 'broker', `connected as ${identity}, the device's own identity (command topic ${topic} granted)`)];
  } catch (err) {
    const e = explain(err as Error & { code?: string | number }, url);
    return [pass('broker', 'broker', `connected to ${url}`), fail('broker.authorised', 'broker', e.summary, e.fix)];
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
};

export const outboxCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('outbox', 'outbox', 'config invalid');
  const path = join(config.dataDir, 'outbox.db');
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return pass('outbox', 'outbox', 'empty (no outbox yet: the agent has not run)');
  const before = new Set(await readdir(dirname(path)));
  let stats;
  try {
    const outbox = Outbox.open(path, { capacityBytes: config.transport.outboxCapacityBytes, thinKeepEvery: config.transport.thinKeepEvery });
    stats = outbox.stats();
    outbox.close();
  } catch (err) {
    return fail('outbox', 'outbox', `cannot open ${path}: ${(err as Error).message}`, 'the file is damaged or not readable by this user; run nrec doctor as the service user or root');
  } finally {
    // Run as root, SQLite may have made -wal/-shm files: give them to the outbox's owner, or the agent cannot open it.
    if (process.getuid?.() === 0) {
      for (const f of await readdir(dirname(path))) {
        if (!before.has(f) && f.startsWith(basename(path))) await chown(join(dirname(path), f), st.uid, st.gid).catch(() => undefined);
      }
    }
  }
  const lanes = Object.entries(stats);
  const count = lanes.reduce((n, [, l]) => n + l.count, 0);
  const bytes = lanes.reduce((n, [, l]) => n + l.bytes, 0);
  const oldest = Math.min(...lanes.map(([, l]) => l.oldestAt ?? Number.POSITIVE_INFINITY));
  const ageS = Number.isFinite(oldest) ? Math.round((Date.now() - oldest) / 1000) : 0;
  const details = { count, bytes, oldestAgeS: ageS, lanes: Object.fromEntries(lanes.map(([k, l]) => [k, l.count])) };
  if (count === 0) return pass('outbox', 'outbox', 'empty: everything has reached the platform', details);
  const fill = bytes / config.transport.outboxCapacityBytes;
  if (ageS > 3600 || fill > 0.5) return warn('outbox', 'outbox', `${count} messages waiting (${(fill * 100).toFixed(0)} % full), the oldest for ${ageS} s`, 'the platform has not taken them: check the broker check above and the network; nothing is lost until the outbox is full', details);
  return pass('outbox', 'outbox', `${count} messages waiting, the oldest for ${ageS} s`, details);
};
