import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ValueError } from '@sinclair/typebox/errors';
import { placeholders, unknownPlaceholder } from '../channels/template.js';
import { ContactBook, type ChannelSettings, type ResolvedContact, type ResolvedEscalation, type Target } from './book.js';
import { ContactsFile, DEFAULTS, type EscalationConfig } from './schema.js';

const check = TypeCompiler.Compile(ContactsFile);

/** A contacts file that cannot be used: every problem found, each naming its JSON path. */
export class ContactsError extends Error {
  override readonly name = 'ContactsError';
  readonly file: string;
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    super(`contacts file ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`);
    this.file = file;
    this.problems = problems;
  }
}

/** How files named in it are read (tests swap it); relative paths are relative to the contacts file. */
export type ReadSecret = (path: string) => Promise<{ text: string; mode: number }>;

const readSecretFile: ReadSecret = async (path) => ({ text: await readFile(path, 'utf8'), mode: (await stat(path)).mode });

/** Reads, checks and resolves a contacts file; throws ContactsError listing every problem. */
export async function loadContacts(file: string, o: { now?: number; readSecret?: ReadSecret } = {}): Promise<ContactBook> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ContactsError(file, [`(file): cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseContacts(text, file, o);
}

function describe(e: ValueError): string {
  const path = e.path === '' ? '(root)' : e.path;
  const anyOf = (e.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  const message = anyOf !== undefined && anyOf.every((s) => s.const !== undefined) ? `must be one of ${anyOf.map((s) => JSON.stringify(s.const)).join(', ')}` : e.message;
  const got = e.value === undefined || typeof e.value === 'object' ? '' : ` (got ${JSON.stringify(e.value).slice(0, 80)})`;
  return `${path}: ${message}${got}`;
}

/** Checks and resolves the text of a contacts file (`file` names it in errors and anchors relative paths). */
export async function parseContacts(text: string, file: string, o: { now?: number; readSecret?: ReadSecret } = {}): Promise<ContactBook> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ContactsError(file, [`(file): not valid JSON: ${(err as Error).message}`]);
  }
  const schemaErrors = [...check.Errors(raw)].map(describe);
  if (schemaErrors.length > 0) throw new ContactsError(file, byPath([...new Set(schemaErrors)]));
  const cfg = raw as ContactsFile;
  const problems: string[] = [];
  const warnings: string[] = [];
  const base = dirname(resolve(file));
  const readSecret = o.readSecret ?? readSecretFile;

  /** Reads a file named at `path`; records a problem (and returns undefined) when it cannot be used. */
  const secret = async (path: string, name: string): Promise<string | undefined> => {
    const full = resolve(base, name);
    try {
      const { text: t, mode } = await readSecret(full);
      if ((mode & 0o077) !== 0) warnings.push(`${path}: ${full} may be read by others (mode ${(mode & 0o777).toString(8)}); make it 0600`);
      return t;
    } catch (err) {
      problems.push(`${path}: cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
  };
  const jsonStrings = async (path: string, name: string): Promise<Record<string, string> | undefined> => {
    const t = await secret(path, name);
    if (t === undefined) return undefined;
    try {
      const v = JSON.parse(t) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) return v as Record<string, string>;
    } catch {
      // reported below, without echoing the content
    }
    problems.push(`${path}: ${resolve(base, name)} must be a JSON object of strings`);
    return undefined;
  };

  const ch = cfg.channels ?? {};
  const channels: ChannelSettings = { webhook: { ...DEFAULTS.webhook, ...stripUndefined({ timeoutMs: ch.webhook?.timeoutMs, retries: ch.webhook?.retries, backoffMs: ch.webhook?.backoffMs }) } };
  let webhookSecret: string | undefined;
  if (ch.webhook?.secretFile !== undefined) webhookSecret = await webhookSecretAt('/channels/webhook/secretFile', ch.webhook.secretFile);

  async function webhookSecretAt(path: string, name: string): Promise<string | undefined> {
    const t = (await secret(path, name))?.trim();
    if (t !== undefined && Buffer.byteLength(t) < 16) {
      problems.push(`${path}: the secret in ${resolve(base, name)} is shorter than 16 bytes`);
      return undefined;
    }
    return t;
  }

  if (ch.email !== undefined) {
    const e = ch.email;
    let auth: { user: string; pass: string } | undefined;
    if (e.credentialsFile !== undefined) {
      const c = await jsonStrings('/channels/email/credentialsFile', e.credentialsFile);
      if (c !== undefined && (c.user === undefined || c.pass === undefined)) problems.push(`/channels/email/credentialsFile: ${resolve(base, e.credentialsFile)} needs "user" and "pass"`);
      else if (c !== undefined) auth = { user: c.user, pass: c.pass };
    }
    let ca: Buffer | undefined;
    if (e.tls?.caFile !== undefined) {
      const t = await secret('/channels/email/tls/caFile', e.tls.caFile);
      if (t !== undefined) ca = Buffer.from(t);
    }
    channels.email = {
      host: e.host, port: e.port ?? DEFAULTS.email.port, secure: e.secure ?? DEFAULTS.email.secure, requireTLS: e.requireTLS ?? DEFAULTS.email.requireTLS, from: e.from,
      ...(auth !== undefined ? { auth } : {}),
      tls: { ...(ca !== undefined ? { ca } : {}), rejectUnauthorized: e.tls?.rejectUnauthorized ?? DEFAULTS.email.rejectUnauthorized, ...(e.tls?.servername !== undefined ? { servername: e.tls.servername } : {}) },
      timeoutMs: e.timeoutMs ?? DEFAULTS.email.timeoutMs,
    };
  }

  if (ch.sms !== undefined) {
    const s = ch.sms;
    const credentials = s.credentialsFile === undefined ? undefined : await jsonStrings('/channels/sms/credentialsFile', s.credentialsFile);
    const names = s.credentialsFile === undefined ? undefined : new Set(Object.keys(credentials ?? {}));
    // A missing credentials file is reported once, above; its placeholders then say nothing more.
    const checkTemplate = (path: string, t: string) => {
      if (s.credentialsFile !== undefined && credentials === undefined) return;
      for (const p of placeholders(t)) {
        const why = unknownPlaceholder(p, names);
        if (why !== undefined) problems.push(`${path}: ${why}`);
      }
    };
    checkTemplate('/channels/sms/url', s.url);
    for (const [h, v] of Object.entries(s.headers ?? {})) checkTemplate(`/channels/sms/headers/${h}`, v);
    if (s.body !== undefined) checkTemplate('/channels/sms/body', s.body);
    const method = s.method ?? DEFAULTS.sms.method;
    if (method === 'GET' && s.body !== undefined) problems.push('/channels/sms/body: a GET request carries no body; put the fields in the url');
    if (method !== 'GET' && s.body === undefined) problems.push('/channels/sms/body: required for POST and PUT (the gateway\'s request body, with {to} and {text})');
    const all = [s.url, s.body ?? '', ...Object.values(s.headers ?? {})].join(' ');
    if (!placeholders(all).includes('to') || !placeholders(all).includes('text')) problems.push('/channels/sms: the url, headers or body must use both {to} and {text}');
    channels.sms = {
      url: s.url, method, headers: s.headers ?? {}, ...(s.body !== undefined ? { body: s.body } : {}), bodyFormat: s.bodyFormat ?? DEFAULTS.sms.bodyFormat,
      credentials: credentials ?? {}, timeoutMs: s.timeoutMs ?? DEFAULTS.sms.timeoutMs, retries: s.retries ?? DEFAULTS.sms.retries, backoffMs: s.backoffMs ?? DEFAULTS.sms.backoffMs,
    };
  }

  const contacts = new Map<string, ResolvedContact>();
  for (const [id, c] of Object.entries(cfg.contacts)) {
    const targets: Target[] = [];
    for (const [i, t] of c.channels.entries()) {
      const path = `/contacts/${id}/channels/${i}`;
      const extra = (fields: Array<keyof typeof t>) => {
        for (const f of fields) if (t[f] !== undefined) problems.push(`${path}/${f}: not used by a ${t.type} channel`);
      };
      if (t.type === 'webhook') {
        extra(['to']);
        if (t.url === undefined) problems.push(`${path}/url: a webhook needs a url`);
        const s = t.secretFile !== undefined ? await webhookSecretAt(`${path}/secretFile`, t.secretFile) : webhookSecret;
        if (t.secretFile === undefined && ch.webhook?.secretFile === undefined) problems.push(`${path}: a webhook needs a signing secret: give secretFile here or in /channels/webhook/secretFile`);
        if (t.url !== undefined && s !== undefined) targets.push({ channel: 'webhook', url: t.url, secret: s });
      } else if (t.type === 'email') {
        extra(['url', 'secretFile']);
        if (t.to === undefined || !/^[^\s@<>]+@[^\s@<>]+$/.test(t.to)) problems.push(`${path}/to: an email channel needs an address (name@example.org)`);
        else targets.push({ channel: 'email', to: t.to });
        if (ch.email === undefined) problems.push(`${path}: email is used but /channels/email (the SMTP server) is not configured`);
      } else if (t.type === 'sms') {
        extra(['url', 'secretFile']);
        if (t.to === undefined || !/^\+?[0-9]{5,20}$/.test(t.to)) problems.push(`${path}/to: an sms channel needs a phone number in international format (+4915112345678)`);
        else targets.push({ channel: 'sms', to: t.to });
        if (ch.sms === undefined) problems.push(`${path}: sms is used but /channels/sms (the gateway) is not configured`);
      } else {
        extra(['url', 'secretFile', 'to']);
        targets.push({ channel: 'console' });
      }
    }
    contacts.set(id, { id, name: c.name, targets });
  }

  const escalation = (path: string, e: EscalationConfig, source: string): ResolvedEscalation => ({
    source,
    repeatMs: Math.round((e.repeatS ?? DEFAULTS.repeatS) * 1000),
    tiers: e.tiers.map((t, i) => ({
      delayMs: Math.round((t.delayS ?? DEFAULTS.tierDelayS) * 1000),
      contacts: t.contacts.flatMap((id, j) => {
        const c = contacts.get(id);
        if (c === undefined) problems.push(`${path}/tiers/${i}/contacts/${j}: no contact "${id}" in /contacts`);
        return c === undefined ? [] : [c];
      }),
    })),
  });

  const groups = new Map<string, ResolvedEscalation>();
  const exact = new Map<string, ResolvedEscalation>();
  const prefixes: Array<{ prefix: string; escalation: ResolvedEscalation }> = [];
  const claimedBy = new Map<string, string>();
  for (const [g, group] of Object.entries(cfg.groups ?? {})) {
    const esc = escalation(`/groups/${g}/escalation`, group.escalation, `group ${g}`);
    groups.set(g, esc);
    for (const [i, pattern] of (group.devices ?? []).entries()) {
      const other = claimedBy.get(pattern);
      if (other !== undefined) problems.push(`/groups/${g}/devices/${i}: "${pattern}" is also listed by group ${other}; a device belongs to one group`);
      claimedBy.set(pattern, g);
      if (pattern.endsWith('*')) prefixes.push({ prefix: pattern.slice(0, -1), escalation: esc });
      else exact.set(pattern, esc);
    }
  }
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length);

  const devices = new Map<string, { name?: string; escalation?: ResolvedEscalation }>();
  for (const [id, d] of Object.entries(cfg.devices ?? {})) {
    let esc: ResolvedEscalation | undefined;
    if (d.escalation !== undefined) esc = escalation(`/devices/${id}/escalation`, d.escalation, `device ${id}`);
    else if (d.group !== undefined) {
      esc = groups.get(d.group);
      if (esc === undefined) problems.push(`/devices/${id}/group: no group "${d.group}" in /groups`);
    }
    devices.set(id, { ...(d.name !== undefined ? { name: d.name } : {}), ...(esc !== undefined ? { escalation: esc } : {}) });
  }
  const defaultEscalation = cfg.escalation === undefined ? undefined : escalation('/escalation', cfg.escalation, 'default');

  if (problems.length > 0) throw new ContactsError(file, byPath(problems));
  return new ContactBook({
    file, hash: createHash('sha256').update(text).digest('hex'), loadedAt: o.now ?? Date.now(), channels,
    acknowledge: { ...stripUndefined({ consoleUrl: cfg.acknowledge?.consoleUrl, apiUrl: cfg.acknowledge?.apiUrl }) },
    contacts, defaultEscalation, devices, exact, prefixes, warnings,
  });
}

/** Problems in the order of their paths (a stable sort keeps one path's problems in the order found). */
function byPath(problems: string[]): string[] {
  const path = (p: string) => p.slice(0, p.indexOf(': '));
  return [...problems].sort((a, b) => (path(a) < path(b) ? -1 : path(a) > path(b) ? 1 : 0));
}

function stripUndefined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
