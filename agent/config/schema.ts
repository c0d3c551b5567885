import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MAX_PART_BYTES } from '../../protocol/media.js';
import { DEVICE_ID_PATTERN, RESERVED_DEVICE_IDS } from '../../protocol/topics.js';

/**
 * The agent's configuration: one JSON file. Every option has a default that
 * works on a Pi and in the simulator except `deviceId`. README "Configuration"
 * documents each option; the descriptions here are the source of that table.
 */
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);

export const MqttConfig = Type.Object(
  {
    url: Opt(Type.String({ default: 'mqtt://127.0.0.1:1883', description: 'broker URL: mqtt://, mqtts:// (TLS), ws:// or wss:// (MQTT over WebSocket, TLS)' })),
    bulkUrl: Opt(Type.String({ description: 'broker URL of the media (bulk) connection, when the broker gives it a listener of its own (scripts/mosquitto); default: url' })),
    protocolVersion: Opt(Type.Union([Type.Literal(4), Type.Literal(5), Type.Literal('auto')], { default: 'auto', description: '4 = MQTT 3.1.1, 5 = MQTT 5; auto tries 5 then falls back to 3.1.1' })),
    username: Opt(Type.String()),
    passwordFile: Opt(Type.String({ description: 'file holding the password (never put secrets in the config)' })),
    caFile: Opt(Type.String({ description: 'CA certificate (PEM) to trust for TLS' })),
    certFile: Opt(Type.String({ description: 'client certificate (PEM) for mutual TLS' })),
    keyFile: Opt(Type.String({ description: 'client private key (PEM, mode 0600) for mutual TLS' })),
    keepaliveS: Opt(Type.Integer({ minimum: 5, maximum: 3600, default: 30 })),
    backoffMinMs: Opt(Type.Integer({ minimum: 50, default: 500, description: 'first reconnect delay cap (full jitter); at most backoffMaxMs' })),
    backoffMaxMs: Opt(Type.Integer({ minimum: 100, default: 60_000, description: 'largest reconnect delay cap (full jitter)' })),
  },
  { additionalProperties: false, default: {} },
);

export const GpsConfig = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: true })),
    path: Opt(Type.String({ default: '/dev/ttyACM0', description: 'tty of the receiver; prefer /dev/serial/by-id/...' })),
    baudRate: Opt(Type.Union([Type.Integer({ minimum: 1200, maximum: 921600 }), Type.Literal('auto')], { default: 9600, description: "baud rate, or 'auto' to try 4800/9600/38400/115200" })),
    requireChecksum: Opt(Type.Boolean({ default: true, description: 'reject sentences without a *hh checksum' })),
    intervalS: Opt(Type.Number({ minimum: 1, maximum: 3600, default: 30, description: 'report interval while moving' })),
    displacementM: Opt(Type.Number({ minimum: 0, default: 25, description: 'report early after moving this far' })),
    minIntervalS: Opt(Type.Number({ minimum: 0, default: 5, description: 'displacement-triggered reports at least this far apart' })),
    stationaryIntervalS: Opt(Type.Number({ minimum: 1, default: 120, description: 'report interval while stationary' })),
    visitIntervalS: Opt(Type.Number({ minimum: 1, default: 10, description: 'report interval during a visit' })),
    sosBurstS: Opt(Type.Number({ minimum: 0, default: 60, description: '1 Hz reporting for this long after an SOS' })),
  },
  { additionalProperties: false, default: {} },
);

export const ButtonConfig = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: true })),
    backend: Opt(Type.Union([Type.Literal('gpiod'), Type.Literal('sysfs')], { default: 'gpiod' })),
    chip: Opt(Type.String({ default: 'gpiochip0' })),
    line: Opt(Type.Union([Type.String(), Type.Integer({ minimum: 0 })], { default: 'GPIO17', description: 'line name (gpiod) or offset on the chip (gpiod, sysfs: GPIO17 is 17 on a Raspberry Pi)' })),
    activeLow: Opt(Type.Boolean({ default: true, description: 'button to ground with pull-up: pressed reads 0' })),
    bias: Opt(Type.Union([Type.Literal('pull-up'), Type.Literal('pull-down'), Type.Literal('disable'), Type.Literal('as-is')], { default: 'pull-up' })),
    pollMs: Opt(Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'sysfs polling interval' })),
    sysfsRoot: Opt(Type.String({ default: '/sys/class/gpio' })),
    toolsDir: Opt(Type.String({ description: 'directory with gpiomon/gpioget/gpioset (default: PATH)' })),
    debounceMs: Opt(Type.Integer({ minimum: 0, maximum: 1000, default: 30 })),
    sosHoldMs: Opt(Type.Integer({ minimum: 100, maximum: 30_000, default: 1500, description: 'hold this long for an SOS' })),
    tripleIsSos: Opt(Type.Boolean({ default: false, description: 'a triple press also raises an SOS' })),
    cancelWindowS: Opt(Type.Number({ minimum: 0, default: 10, description: 'a double press within this window cancels a false SOS' })),
    resendS: Opt(Type.Number({ minimum: 1, default: 15, description: 'alarm re-sent with rising escalation until acknowledged' })),
    feedbackLine: Opt(Type.Union([Type.String(), Type.Integer({ minimum: 0 })], { description: 'LED/buzzer output line (optional)' })),
  },
  { additionalProperties: false, default: {} },
);

export const TransportConfig = Type.Object(
  {
    outboxCapacityBytes: Opt(Type.Integer({ minimum: 65_536, default: 64 * 1024 * 1024, description: 'outbox size on disk; see lane policy' })),
    alarmReserveBytes: Opt(Type.Integer({
      minimum: 262_144,
      maximum: 256 * 1024 * 1024,
      default: 4 * 1024 * 1024,
      description: 'disk kept for alarms (<dataDir>/alarm-reserve): released slice by slice when an alarm cannot be stored on a full disk; media capture, an SOS recording included, stops before the free space left besides it falls below this much',
    })),
    thinKeepEvery: Opt(Type.Integer({ minimum: 2, default: 4, description: 'when full, keep every Nth queued location' })),
    bulkMinKbps: Opt(Type.Number({ minimum: 8, default: 256, description: 'bulk (media) budget floor in kbit/s' })),
    bulkMaxKbps: Opt(Type.Number({ minimum: 8, default: 100_000, description: 'bulk budget ceiling in kbit/s' })),
    bulkAdaptive: Opt(Type.Boolean({ default: true, description: 'adapt the bulk budget to acknowledgement delay (LEDBAT-style)' })),
    queueDelayTargetMs: Opt(Type.Integer({ minimum: 5, default: 25, description: 'queueing delay bulk traffic may add on the link' })),
    maxInFlightBytes: Opt(Type.Integer({ minimum: 16_384, default: 256 * 1024, description: 'unacknowledged bulk bytes at most' })),
    partBytes: Opt(
      Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 4096, maximum: MAX_PART_BYTES })], {
        default: 'auto',
        description: 'media part payload size in bytes (at most 128 KiB), or auto: about 100 ms of link time at the bulk rate when a chunk starts uploading, 16..128 KiB',
      }),
    ),
    shutdownDrainS: Opt(Type.Number({ minimum: 0, maximum: 120, default: 5, description: 'on a clean stop, wait this long for queued messages and chunks to go out' })),
    backfillBatch: Opt(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'locations per backfill message' })),
    confirmTimeoutS: Opt(Type.Number({ minimum: 0.5, maximum: 3600, default: 20, description: 'a message the broker acknowledged but the platform has not confirmed after this long is sent again (doubling while unconfirmed)' })),
    refusedRetryMaxS: Opt(Type.Number({ minimum: 1, maximum: 3600, default: 300, description: 'a topic the broker refuses (MQTT 5 reason code) is retried with backoff up to this far apart' })),
    confirmTimeoutMaxS: Opt(Type.Number({ minimum: 1, maximum: 86_400, default: 600, description: 'the longest wait between re-sends of unconfirmed messages (the platform is away)' })),
  },
  { additionalProperties: false, default: {} },
);

export const HealthConfig = Type.Object(
  {
    intervalS: Opt(Type.Number({ minimum: 1, default: 60 })),
    powerSupplyRoot: Opt(Type.String({ default: '/sys/class/power_supply' })),
    thermalRoot: Opt(Type.String({ default: '/sys/class/thermal' })),
    clockSyncFile: Opt(Type.String({ default: '/run/systemd/timesync/synchronized', description: 'exists when the system clock is NTP-synchronized' })),
  },
  { additionalProperties: false, default: {} },
);

export const MediaConfig = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: false, description: 'capture evidence with ffmpeg' })),
    profile: Opt(Type.Union([Type.Literal('usb'), Type.Literal('csi'), Type.Literal('audio'), Type.Literal('sim')], { default: 'usb' })),
    ffmpegPath: Opt(Type.String({ description: 'ffmpeg binary (default: FFMPEG_PATH, PATH, then the npm package)' })),
    ffprobePath: Opt(Type.String({ description: 'ffprobe binary (default: FFPROBE_PATH, PATH, beside ffmpeg, then the npm package)' })),
    videoDevice: Opt(Type.String({ default: '/dev/video0' })),
    audioDevice: Opt(Type.String({ default: 'default', description: 'ALSA device' })),
    audio: Opt(Type.Boolean({ default: true, description: 'record audio with video (also in the pre-event buffer)' })),
    width: Opt(Type.Integer({ minimum: 160, maximum: 3840, default: 1280 })),
    height: Opt(Type.Integer({ minimum: 120, maximum: 2160, default: 720 })),
    fps: Opt(Type.Integer({ minimum: 1, maximum: 60, default: 15 })),
    videoKbps: Opt(Type.Integer({ minimum: 50, maximum: 20_000, default: 1500 })),
    audioKbps: Opt(Type.Integer({ minimum: 16, maximum: 320, default: 64 })),
    chunkS: Opt(Type.Number({ minimum: 1, maximum: 300, default: 10, description: 'chunk length' })),
    mode: Opt(Type.Union([Type.Literal('off'), Type.Literal('buffering')], { default: 'buffering', description: 'what the recorder does outside visits and alarms' })),
    bufferS: Opt(Type.Number({ minimum: 0, maximum: 600, default: 30, description: 'pre-event buffer kept while buffering' })),
    postEventS: Opt(Type.Number({ minimum: 0, maximum: 3600, default: 60, description: 'recording after an SOS' })),
    quotaBytes: Opt(Type.Integer({ minimum: 1_048_576, default: 2 * 1024 * 1024 * 1024, description: 'disk for chunks; unuploaded evidence is never deleted' })),
    retainAckedS: Opt(Type.Number({ minimum: 0, default: 0, description: 'keep acknowledged chunks this long (0: delete at once)' })),
  },
  { additionalProperties: false, default: {} },
);

export const ServiceConfig = Type.Object(
  {
    transportWedgeS: Opt(Type.Number({ minimum: 30, default: 900, description: 'withhold the systemd watchdog ping (so systemd restarts the agent) when the MQTT session says connected and messages wait, but none has been sent for this long' })),
  },
  { additionalProperties: false, default: {} },
);

export const UpdateConfig = Type.Object(
  {
    publicKeyFile: Opt(Type.String({ default: '/etc/nrec/release-key.pem', description: 'Ed25519 public key that release bundles must be signed with' })),
    healthDeadlineS: Opt(Type.Number({ minimum: 10, maximum: 3600, default: 300, description: 'a new release must report itself healthy (connected, GPS and button up) within this long, or it is rolled back' })),
    caFile: Opt(Type.String({ description: 'CA certificate (PEM) to trust for update.install downloads, besides the system CAs' })),
    maxBundleBytes: Opt(Type.Integer({ minimum: 1_048_576, default: 512 * 1024 * 1024, description: 'largest bundle update.install downloads' })),
  },
  { additionalProperties: false, default: {} },
);

export const AgentConfig = Type.Object(
  {
    deviceId: Type.String({ pattern: DEVICE_ID_PATTERN, description: `this device; also its topic prefix: 1-64 of [A-Za-z0-9_-], not starting with _, not ${RESERVED_DEVICE_IDS.join(' or ')} (the platform store's own folders)` }),
    dataDir: Opt(Type.String({ default: '/var/lib/nrec', description: 'outbox, alarm state, media spool' })),
    logLevel: Opt(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((s) => Type.Literal(s)), { default: 'info' })),
    mqtt: Opt(MqttConfig),
    gps: Opt(GpsConfig),
    button: Opt(ButtonConfig),
    transport: Opt(TransportConfig),
    health: Opt(HealthConfig),
    media: Opt(MediaConfig),
    service: Opt(ServiceConfig),
    update: Opt(UpdateConfig),
  },
  { additionalProperties: false },
);

type DeepRequired<T> = T extends object ? { [K in keyof T]-?: DeepRequired<T[K]> } : T;
export type AgentConfigInput = Static<typeof AgentConfig>;
/** Config after defaults: every defaulted field is present. Fields without defaults stay optional. */
export type Config = Omit<DeepRequired<AgentConfigInput>, 'mqtt' | 'button' | 'media' | 'update'> & {
  update: DeepRequired<Omit<Static<typeof UpdateConfig>, 'caFile'>> & Pick<Static<typeof UpdateConfig>, 'caFile'>;
  media: DeepRequired<Omit<Static<typeof MediaConfig>, 'ffmpegPath' | 'ffprobePath'>> & Pick<Static<typeof MediaConfig>, 'ffmpegPath' | 'ffprobePath'>;
  mqtt: DeepRequired<Omit<Static<typeof MqttConfig>, 'bulkUrl' | 'username' | 'passwordFile' | 'caFile' | 'certFile' | 'keyFile'>> &
    Pick<Static<typeof MqttConfig>, 'bulkUrl' | 'username' | 'passwordFile' | 'caFile' | 'certFile' | 'keyFile'>;
  button: DeepRequired<Omit<Static<typeof ButtonConfig>, 'toolsDir' | 'feedbackLine'>> & Pick<Static<typeof ButtonConfig>, 'toolsDir' | 'feedbackLine'>;
};
