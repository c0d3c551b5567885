/**
 * Topic layout, version 1:
 *   nrec/v1/{deviceId}/{stream}[/{sub}]   device → platform (the device's own prefix)
 *   nrec/v1/{deviceId}/cmd/{kind}         platform → device (commands, ingest acknowledgements)
 * Ids and levels use [A-Za-z0-9_-] only, so topics map onto other brokers'
 * subject syntax (NATS turns '/' into '.') and can never contain wildcards.
 */
export const TOPIC_ROOT = 'nrec';
export const PROTOCOL_VERSION = 1;
const PREFIX = `${TOPIC_ROOT}/v${PROTOCOL_VERSION}`;

/** Streams a device publishes; each has its own per-boot `seq`. */
export const DEVICE_STREAMS = ['status', 'health', 'event', 'location', 'alarm', 'result', 'media'] as const;
export type DeviceStream = (typeof DEVICE_STREAMS)[number];

/** What the platform sends to a device, below `cmd/`. */
export const INBOUND_KINDS = ['req', 'ack'] as const;
export type InboundKind = (typeof INBOUND_KINDS)[number];

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Names a device may not take, compared without case: the platform's store keeps one folder per
 * device next to its own folders (`keys/`, `evidence/`, and `_`-prefixed ones such as
 * `_incoming/`, `_rejected`), and a case-insensitive filesystem would make `Keys` the same folder.
 */
export const RESERVED_DEVICE_IDS = ['keys', 'evidence'] as const;

/**
 * The device id rule as one regular expression (the config schema uses it): an id, not starting
 * with `_`, not a reserved name in any case.
 */
export const DEVICE_ID_PATTERN = `^(?!_)(?!(?:${RESERVED_DEVICE_IDS.map((n) => [...n].map((c) => `[${c}${c.toUpperCase()}]`).join('')).join('|')})$)[A-Za-z0-9_-]{1,64}$`;
const DEVICE_ID_RE = new RegExp(DEVICE_ID_PATTERN);

/** True when `s` is usable as an id or a topic level. */
export function isValidId(s: string): boolean {
  return ID_RE.test(s);
}

/** True when `s` is usable as a device id: a valid id that cannot collide with the platform store's own folders. */
export function isValidDeviceId(s: string): boolean {
  return DEVICE_ID_RE.test(s);
}

/** Why `s` is not a usable device id, or undefined when it is. */
export function deviceIdProblem(s: string): string | undefined {
  if (!isValidId(s)) return `device id "${s}" is not valid: use 1-64 of [A-Za-z0-9_-]`;
  if (s.startsWith('_')) return `device id "${s}" is not valid: it may not start with "_" (reserved for the platform store's own folders)`;
  if (!isValidDeviceId(s)) return `device id "${s}" is reserved (the platform store uses ${RESERVED_DEVICE_IDS.map((n) => `"${n}"`).join(', ')} for its own folders, in any case)`;
  return undefined;
}

function checkId(what: string, s: string): void {
  if (!isValidId(s)) throw new Error(`${what} "${s}" is not valid: use 1-64 of [A-Za-z0-9_-]`);
}

/**
 * MQTT client id of a device's second connection, the paced bulk one that
 * carries media (its control connection uses the deviceId itself). The `.`
 * is outside the id alphabet, so this can never equal any device's control
 * id (with `-bulk`, device "x-bulk"'s control id was device "x"'s bulk id) nor
 * another device's bulk id. Brokers accept it as is (aedes, Mosquitto, NATS
 * 2.9's MQTT listener); the Mosquitto templates force their own (see
 * scripts/mosquitto/README.md).
 */
export function bulkClientId(deviceId: string): string {
  checkDeviceId(deviceId);
  return `${deviceId}.bulk`;
}

function checkDeviceId(s: string): void {
  const problem = deviceIdProblem(s);
  if (problem !== undefined) throw new Error(`deviceId: ${problem}`);
}

/** Topic a device publishes a stream on, e.g. nrec/v1/dev-1/location or nrec/v1/dev-1/media/part. */
export function deviceTopic(deviceId: string, stream: DeviceStream, sub?: string): string {
  checkDeviceId(deviceId);
  if (sub !== undefined) {
    checkId('topic level', sub);
    return `${PREFIX}/${deviceId}/${stream}/${sub}`;
  }
  return `${PREFIX}/${deviceId}/${stream}`;
}

/** Topic the platform sends a device commands or acknowledgements on. */
export function inboundTopic(deviceId: string, kind: InboundKind): string {
  checkDeviceId(deviceId);
  return `${PREFIX}/${deviceId}/cmd/${kind}`;
}

/** Subscription filter for everything devices publish (all devices, or one). */
export function deviceFilter(deviceId = '+'): string {
  if (deviceId !== '+') checkDeviceId(deviceId);
  return `${PREFIX}/${deviceId}/#`;
}

/**
 * Where the platform announces itself (retained): not under any device's prefix — `_platform` can
 * never be a device id —, readable by every device, written only by the platform.
 */
export const PLATFORM_STATUS_TOPIC = `${PREFIX}/_platform/status`;

/** Subscription filter a device uses for what is sent to it. */
export function inboundFilter(deviceId: string): string {
  checkDeviceId(deviceId);
  return `${PREFIX}/${deviceId}/cmd/#`;
}

export type ParsedTopic =
  | { ok: true; direction: 'device'; deviceId: string; stream: DeviceStream; sub?: string }
  | { ok: true; direction: 'inbound'; deviceId: string; kind: InboundKind }
  | { ok: false; reason: string };

/** Parses any nrec topic; never throws, says what was wrong. */
export function parseTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  if (parts.length < 4 || parts[0] !== TOPIC_ROOT) return { ok: false, reason: `topic "${topic}" is not under ${TOPIC_ROOT}/` };
  if (parts[1] !== `v${PROTOCOL_VERSION}`) return { ok: false, reason: `topic "${topic}" has unsupported version "${parts[1]}"` };
  const deviceId = parts[2];
  const problem = deviceIdProblem(deviceId);
  if (problem !== undefined) return { ok: false, reason: `topic "${topic}" has an invalid deviceId: ${problem}` };
  const level = parts[3];
  if (level === 'cmd') {
    const kind = parts[4];
    if (parts.length !== 5 || !(INBOUND_KINDS as readonly string[]).includes(kind)) {
      return { ok: false, reason: `topic "${topic}" has an unknown inbound kind` };
    }
    return { ok: true, direction: 'inbound', deviceId, kind: kind as InboundKind };
  }
  if (!(DEVICE_STREAMS as readonly string[]).includes(level)) return { ok: false, reason: `topic "${topic}" has unknown stream "${level}"` };
  if (parts.length > 5) return { ok: false, reason: `topic "${topic}" has too many levels` };
  const sub = parts[4];
  if (sub !== undefined && !isValidId(sub)) return { ok: false, reason: `topic "${topic}" has an invalid level "${sub}"` };
  return sub === undefined
    ? { ok: true, direction: 'device', deviceId, stream: level as DeviceStream }
    : { ok: true, direction: 'device', deviceId, stream: level as DeviceStream, sub };
}
