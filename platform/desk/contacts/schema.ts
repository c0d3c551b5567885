import { Type, type Static } from '@sinclair/typebox';

/*
 * The contacts file: who is told about an alarm, in which order, through
 * which channels. One TypeBox schema is the source of the type, the validation
 * (every error at once, each naming its JSON path) and docs/alarm-desk.md.
 * Cross-references (a tier naming a contact, a device naming a group, a channel
 * used without its settings) are checked in load.ts.
 */

/** Defaults, in one place: the schema documents them, load.ts applies them. */
export const DEFAULTS = {
  tierDelayS: 60,
  repeatS: 120,
  webhook: { timeoutMs: 5000, retries: 3, backoffMs: 1000 },
  email: { port: 587, secure: false, requireTLS: true, rejectUnauthorized: true, timeoutMs: 15_000 },
  sms: { method: 'POST', bodyFormat: 'json', timeoutMs: 10_000, retries: 3, backoffMs: 1000 },
} as const;

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: '1-64 of [A-Za-z0-9_-]' });
const Text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, description });
const File = (description: string) => Type.String({ minLength: 1, maxLength: 4096, description });
const Url = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description });

export const ChannelTarget = Type.Object(
  {
    type: Type.Union([Type.Literal('webhook'), Type.Literal('email'), Type.Literal('sms'), Type.Literal('console')], { description: 'webhook, email, sms or console' }),
    url: Type.Optional(Url('webhook: where the JSON POST goes')),
    secretFile: Type.Optional(File('webhook: file holding this endpoint\'s signing secret (default: channels.webhook.secretFile)')),
    to: Type.Optional(Type.String({ minLength: 3, maxLength: 254, description: 'email: the address; sms: the number in international format (+4915112345678)' })),
  },
  { additionalProperties: false },
);

export const Contact = Type.Object(
  {
    name: Text(128, 'who this is, as messages and the console show it'),
    channels: Type.Array(ChannelTarget, { minItems: 1, maxItems: 16, description: 'every channel this contact is told through, all at once' }),
  },
  { additionalProperties: false },
);

export const Tier = Type.Object(
  {
    contacts: Type.Array(Id, { minItems: 1, maxItems: 64, description: 'contact ids (keys of `contacts`)' }),
    delayS: Type.Optional(Type.Number({ minimum: 0.5, maximum: 86_400, default: DEFAULTS.tierDelayS, description: 'seconds before the next tier is told, when nobody acknowledged' })),
  },
  { additionalProperties: false },
);

export const Escalation = Type.Object(
  {
    tiers: Type.Array(Tier, { minItems: 1, maxItems: 16, description: 'told in order, each after the previous tier\'s delayS' }),
    repeatS: Type.Optional(Type.Number({ minimum: 0.5, maximum: 86_400, default: DEFAULTS.repeatS, description: 'the current tier is told again this often until someone acknowledges (the last tier: until then, without end)' })),
  },
  { additionalProperties: false },
);

export const DeviceEntry = Type.Object(
  {
    name: Type.Optional(Text(128, 'who wears it (the nurse), shown in every message instead of the device id')),
    group: Type.Optional(Id),
    escalation: Type.Optional(Escalation),
  },
  { additionalProperties: false },
);

export const Group = Type.Object(
  {
    devices: Type.Optional(Type.Array(Type.String({ pattern: '^([A-Za-z0-9_-]{1,64}\\*?|\\*)$', description: 'a device id, or a prefix ending in * (ward3-*)' }), { maxItems: 10_000 })),
    escalation: Escalation,
  },
  { additionalProperties: false },
);

export const WebhookSettings = Type.Object(
  {
    secretFile: Type.Optional(File('file holding the signing secret (at least 16 bytes; one line)')),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, default: DEFAULTS.webhook.timeoutMs })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: DEFAULTS.webhook.retries, description: 'further tries after a 5xx, a 429, a timeout or a network error' })),
    backoffMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000, default: DEFAULTS.webhook.backoffMs, description: 'first retry after this long, doubling' })),
  },
  { additionalProperties: false },
);

export const EmailSettings = Type.Object(
  {
    host: Text(253, 'SMTP server'),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, default: DEFAULTS.email.port })),
    secure: Type.Optional(Type.Boolean({ default: DEFAULTS.email.secure, description: 'true: TLS from the first byte (port 465); false: STARTTLS' })),
    requireTLS: Type.Optional(Type.Boolean({ default: DEFAULTS.email.requireTLS, description: 'refuse to send when the server offers no STARTTLS' })),
    from: Text(320, 'sender, e.g. "nrec alarms <alarms@example.org>"'),
    credentialsFile: Type.Optional(File('JSON file {"user": "...", "pass": "..."} (mode 0600)')),
    tls: Type.Optional(Type.Object({
      caFile: Type.Optional(File('PEM file of the CA to trust for the SMTP server')),
      rejectUnauthorized: Type.Optional(Type.Boolean({ default: DEFAULTS.email.rejectUnauthorized, description: 'false accepts any certificate (never in production)' })),
      servername: Type.Optional(Text(253, 'name to check the certificate against')),
    }, { additionalProperties: false })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 120_000, default: DEFAULTS.email.timeoutMs })),
  },
  { additionalProperties: false },
);

export const SmsSettings = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'gateway URL; may hold placeholders ({to}, {credentials.key}, …), URL-encoded when filled in' }),
    method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('GET')], { default: DEFAULTS.sms.method })),
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), Type.String({ maxLength: 4096 }), { additionalProperties: false, description: 'header values may hold placeholders' })),
    body: Type.Optional(Type.String({ maxLength: 16_384, description: 'body template; placeholders are escaped for bodyFormat' })),
    bodyFormat: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('form'), Type.Literal('text')], { default: DEFAULTS.sms.bodyFormat, description: 'json: values escaped as JSON string content; form: URL-encoded; text: as they are' })),
    credentialsFile: Type.Optional(File('JSON file of strings, used as {credentials.NAME} (mode 0600)')),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, default: DEFAULTS.sms.timeoutMs })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: DEFAULTS.sms.retries })),
    backoffMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000, default: DEFAULTS.sms.backoffMs })),
  },
  { additionalProperties: false },
);

export const ContactsFile = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    acknowledge: Type.Optional(Type.Object({
      consoleUrl: Type.Optional(Type.String({ maxLength: 2048, description: 'where a person acknowledges, with {deviceId} and {alarmId}: https://nrec.example/console/#/alarms/{deviceId}/{alarmId}' })),
      apiUrl: Type.Optional(Type.String({ maxLength: 2048, description: 'the API call that acknowledges, e.g. https://nrec.example/api/alarms/{alarmId}/ack (POST, operator token)' })),
    }, { additionalProperties: false })),
    channels: Type.Optional(Type.Object({
      webhook: Type.Optional(WebhookSettings),
      email: Type.Optional(EmailSettings),
      sms: Type.Optional(SmsSettings),
    }, { additionalProperties: false })),
    contacts: Type.Record(Id, Contact, { additionalProperties: false, description: 'everyone who may be told, by id' }),
    escalation: Type.Optional(Escalation),
    groups: Type.Optional(Type.Record(Id, Group, { additionalProperties: false })),
    devices: Type.Optional(Type.Record(Id, DeviceEntry, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export type ContactsFile = Static<typeof ContactsFile>;
export type EscalationConfig = Static<typeof Escalation>;
export type ChannelTargetConfig = Static<typeof ChannelTarget>;
export type SmsSettings = Static<typeof SmsSettings>;
export type EmailSettings = Static<typeof EmailSettings>;
export type WebhookSettings = Static<typeof WebhookSettings>;
