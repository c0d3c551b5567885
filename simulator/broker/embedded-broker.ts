import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { Logger } from '../../lib/logger.js';
import { checkPlatformUsers, identify, mayPublish, mayReceive, maySubscribe, type BrokerIdentity } from './broker-policy.js';
import { PasswordFile } from './password-file.js';

export interface EmbeddedBrokerOptions {
  /** Mosquitto-format password file (password-file.ts); every client logs in with a username and password from it. */
  passwordFile: string;
  /** Usernames with the platform's rights; every other user is a device whose username is its deviceId. None may be a valid deviceId. */
  platformUsers: readonly string[];
  port?: number;
  host?: string;
  logger?: Logger;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What the broker refused, for logs: the first refusal per client and reason goes out at warn, repeats at debug. */
const REPORTED_CAP = 1000;

/**
 * An in-process MQTT 3.1.1 broker (aedes) for `nrec sim` and laptops without
 * Mosquitto, enforcing the production rules (broker-policy.ts) on
 * authenticated users: identity from the username and password, never from
 * the client id a client picks; publishes and subscriptions checked.
 *
 * A refused publish is acknowledged and dropped, as Mosquitto does for MQTT
 * 3.1.1 (which has no way to say no). aedes' own way, an error from
 * authorizePublish, closes the connection without a PUBACK: a device whose
 * one QoS 1 message is refused would then resend it on every reconnect and
 * flap forever. Dropped instead, the message is never confirmed end to end,
 * and the device retries it with backoff. A refused subscription gets SUBACK
 * failure (0x80).
 */
export async function startEmbeddedBroker(o: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  checkPlatformUsers(o.platformUsers);
  const platformUsers = new Set(o.platformUsers);
  const passwords = new PasswordFile(o.passwordFile);
  const identities = new WeakMap<Client, BrokerIdentity>();
  const reported = new Set<string>();
  const report = (client: Client | null, what: string, reason: string) => {
    const key = `${client?.id ?? ''}\0${reason}`;
    const first = !reported.has(key);
    if (first && reported.size < REPORTED_CAP) reported.add(key);
    o.logger?.[first ? 'warn' : 'debug']({ clientId: client?.id, refused: what, reason }, 'embedded broker refused');
  };

  const dropped = new WeakSet<object>();
  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const login = passwords.check(username, password);
      if (!login.ok) {
        report(client, 'connect', login.reason);
        return done(Object.assign(new Error(login.reason), { returnCode: 4 as const }), false);
      }
      const who = identify(username!, client.id, platformUsers);
      if (!who.ok) {
        report(client, 'connect', who.reason);
        // 2 = identifier rejected: the login is fine, the client id is not this user's.
        return done(Object.assign(new Error(who.reason), { returnCode: 2 as const }), false);
      }
      identities.set(client, who.identity);
      done(null, true);
    },
    authorizePublish: (client, packet, done) => {
      const who = client === null ? undefined : identities.get(client);
      const v = who === undefined ? { ok: false as const, reason: 'no authenticated client' } : mayPublish(who, packet.topic);
      if (!v.ok) {
        report(client, `publish ${packet.topic}`, v.reason);
        dropped.add(packet);
      }
      done(null);
    },
    authorizeSubscribe: (client, sub, done) => {
      const who = identities.get(client);
      const v = who === undefined ? { ok: false as const, reason: 'no authenticated client' } : maySubscribe(who, sub.topic);
      if (v.ok) return done(null, sub);
      report(client, `subscribe ${sub.topic}`, v.reason);
      done(null, null); // SUBACK 0x80 for this filter; the connection stays
    },
    authorizeForward: (client, packet) => {
      const who = identities.get(client);
      return who !== undefined && mayReceive(who, packet.topic) ? packet : null;
    },
  });
  // Publishes refused below: acknowledged by aedes (PUBACK for QoS 1), then never
  // routed or retained. The packet object authorizePublish saw is the one aedes
  // hands to publish() (lib/handlers/publish.js, lib/client.js for wills).
  const route = aedes.publish.bind(aedes) as (packet: object, client: unknown, done?: (err?: Error) => void) => void;
  (aedes as unknown as { publish: typeof route }).publish = (packet, client, done) => {
    if (!dropped.has(packet)) return route(packet, client, done);
    const cb = typeof client === 'function' ? (client as (err?: Error) => void) : done;
    cb?.();
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr !== null ? addr.port : (o.port ?? 0);
  const host = o.host ?? '127.0.0.1';
  return {
    url: `mqtt://${host}:${actual}`,
    port: actual,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
