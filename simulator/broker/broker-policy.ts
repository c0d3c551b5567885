import { bulkClientId, isValidId, parseTopic, PLATFORM_STATUS_TOPIC, PROTOCOL_VERSION, TOPIC_ROOT } from '../../protocol/index.js';

/*
 * Who may do what on the embedded broker: the rules of the production ACL
 * (scripts/mosquitto/acl.template) for clients the broker has authenticated.
 * Pure: the broker (embedded-broker.ts) asks, these answer.
 *
 * - A device's username is its deviceId. Its control connection must use the
 *   deviceId as client id, its bulk connection bulkClientId(deviceId); any other
 *   client id is refused, so no client can take over another's session.
 * - Control: publishes only its own streams (nrec/v1/<id>/<stream>[/<sub>], never
 *   cmd/), subscribes only below its own nrec/v1/<id>/cmd/.
 * - Bulk: publishes only its own media headers and parts; subscribes to nothing.
 * - The platform (the usernames listed as such) sends commands and acknowledgements
 *   to any device and reads every device's streams; it cannot publish as a device.
 */

export type BrokerIdentity =
  | { role: 'platform'; username: string }
  | { role: 'device'; deviceId: string; connection: 'control' | 'bulk' };

export type Verdict = { ok: true } | { ok: false; reason: string };
const yes: Verdict = { ok: true };
const no = (reason: string): Verdict => ({ ok: false, reason });

const PREFIX = [TOPIC_ROOT, `v${PROTOCOL_VERSION}`];

/** The identity of an authenticated user asking for `clientId`, or why that client id is not theirs. */
export function identify(username: string, clientId: string, platformUsers: ReadonlySet<string>): { ok: true; identity: BrokerIdentity } | { ok: false; reason: string } {
  if (platformUsers.has(username)) return { ok: true, identity: { role: 'platform', username } };
  if (!isValidId(username)) return { ok: false, reason: `user "${username}" is neither a platform user nor a valid deviceId` };
  if (clientId === username) return { ok: true, identity: { role: 'device', deviceId: username, connection: 'control' } };
  if (clientId === bulkClientId(username)) return { ok: true, identity: { role: 'device', deviceId: username, connection: 'bulk' } };
  return { ok: false, reason: `device "${username}" connected with client id "${clientId}": a device must use its deviceId (control) or "${bulkClientId(username)}" (bulk)` };
}

/** Checks the platform user names at start-up: none may be a deviceId, or a device of that name would get the platform's rights. */
export function checkPlatformUsers(users: readonly string[]): void {
  if (users.length === 0) throw new Error('the embedded broker needs at least one platform user (the ingest)');
  for (const u of users) {
    if (isValidId(u)) throw new Error(`platform user "${u}" is a valid deviceId: use a name no device can have, e.g. with a dot ("ingest.nrec")`);
  }
}

/** May this client publish on `topic`? */
export function mayPublish(who: BrokerIdentity, topic: string): Verdict {
  // The platform's presence is the platform's to announce, nobody else's.
  if (topic === PLATFORM_STATUS_TOPIC) return who.role === 'platform' ? yes : no(`only the platform announces itself on ${topic}`);
  const t = parseTopic(topic);
  if (!t.ok) return no(t.reason);
  if (who.role === 'platform') return t.direction === 'inbound' ? yes : no(`the platform may not publish as device "${t.deviceId}" (${topic})`);
  if (t.deviceId !== who.deviceId) return no(`device "${who.deviceId}" may not publish under device "${t.deviceId}" (${topic})`);
  if (t.direction === 'inbound') return no(`device "${who.deviceId}" may not publish into its own cmd/ (${topic}): only the platform sends commands and acknowledgements`);
  if (who.connection === 'bulk' && !(t.stream === 'media' && (t.sub === 'chunk' || t.sub === 'part'))) return no(`the bulk connection of "${who.deviceId}" carries only media/chunk and media/part, not ${topic}`);
  return yes;
}

/** May this client subscribe to `filter`? */
export function maySubscribe(who: BrokerIdentity, filter: string): Verdict {
  const levels = filter.split('/');
  if (who.role === 'platform') {
    return levels[0] === PREFIX[0] && levels[1] === PREFIX[1] ? yes : no(`the platform subscribes only below ${PREFIX.join('/')}/ (asked for ${filter})`);
  }
  if (who.connection === 'bulk') return no(`the bulk connection of "${who.deviceId}" subscribes to nothing (asked for ${filter})`);
  if (filter === PLATFORM_STATUS_TOPIC) return yes;
  // A filter whose first four levels are literally nrec/v1/<id>/cmd can only match that device's commands.
  const own = levels.length >= 5 && levels[0] === PREFIX[0] && levels[1] === PREFIX[1] && levels[2] === who.deviceId && levels[3] === 'cmd';
  return own ? yes : no(`device "${who.deviceId}" may subscribe only below ${PREFIX.join('/')}/${who.deviceId}/cmd/ (asked for ${filter})`);
}

/** May a message on `topic` be delivered to this client? A second line behind maySubscribe. */
export function mayReceive(who: BrokerIdentity, topic: string): boolean {
  if (topic === PLATFORM_STATUS_TOPIC) return who.role === 'platform' || who.connection === 'control';
  const t = parseTopic(topic);
  if (!t.ok) return false;
  if (who.role === 'platform') return true;
  return who.connection === 'control' && t.direction === 'inbound' && t.deviceId === who.deviceId;
}
