/*
 * Placeholders in the SMS gateway's URL, headers and body: `{name}` is
 * replaced by a value escaped for where it lands (URL-encoded in the URL and
 * a form body, JSON string content in a JSON body). Checked when the contacts
 * file loads, so an unknown placeholder is a configuration error rather than a
 * message sent with "{nmae}" in it.
 */

/** What a message fills in. `credentials.NAME` comes from the credentials file. */
export const MESSAGE_FIELDS = ['to', 'text', 'deviceId', 'deviceName', 'alarmId', 'key', 'mapUrl', 'basicAuth'] as const;

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)\}/g;

/** The placeholder names a template uses, in order of appearance. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** Why a template's placeholder cannot be filled (undefined: it can). */
export function unknownPlaceholder(name: string, credentials: ReadonlySet<string> | undefined): string | undefined {
  if ((MESSAGE_FIELDS as readonly string[]).includes(name)) {
    if (name === 'basicAuth' && (credentials === undefined || !credentials.has('user') || !credentials.has('password'))) return '{basicAuth} needs "user" and "password" in credentialsFile';
    return undefined;
  }
  if (name.startsWith('credentials.')) {
    const key = name.slice('credentials.'.length);
    if (credentials === undefined) return `{${name}} needs a credentialsFile`;
    if (!credentials.has(key)) return `{${name}}: the credentials file has no "${key}"`;
    return undefined;
  }
  return `unknown placeholder {${name}}; known: ${MESSAGE_FIELDS.map((f) => `{${f}}`).join(', ')}, {credentials.NAME}`;
}

export type Escape = (value: string) => string;

export const escapes = {
  url: encodeURIComponent,
  form: (v: string) => encodeURIComponent(v).replace(/%20/g, '+'),
  json: (v: string) => JSON.stringify(v).slice(1, -1),
  text: (v: string) => v,
  /** A header value cannot hold a line break (it would start another header). */
  header: (v: string) => v.replace(/[\r\n]+/g, ' '),
} satisfies Record<string, Escape>;

/** Fills a template; a placeholder without a value is left as it is (load-time checks make that impossible). */
export function fill(template: string, values: Readonly<Record<string, string>>, escape: Escape): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(values, name) ? escape(values[name]) : whole));
}
