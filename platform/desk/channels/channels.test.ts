import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../../test/support/certs.js';
import { writeFile } from 'node:fs/promises';
import { Cleanup } from '../../../test/support/cleanup.js';
import { makeTempDir } from '../../../test/support/temp.js';
import { HttpReceiver, SmtpReceiver } from '../../../test/support/receivers.js';
import type { ChannelSettings } from '../contacts/book.js';
import { parseContacts } from '../contacts/load.js';
import { buildNotice, type Notice } from '../notice.js';
import { ChannelError } from './channel.js';
import { EmailChannel } from './email.js';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER, verifyWebhook } from './signature.js';
import { SmsChannel } from './sms.js';
import { WebhookChannel } from './webhook.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const SECRET = 'whsec-0123456789abcdef0123456789';
const T = Date.UTC(2026, 0, 5, 8, 0, 0);

function notice(o: Partial<Parameters<typeof buildNotice>[0]> = {}): Notice {
  return buildNotice({
    key: 'dev-1/a-1:0:0:webhook:ward', deviceId: 'dev-1', deviceName: 'Maria "M" K.\nward 3', alarmId: 'a-1', state: 'notifying', trigger: 'button',
    raisedAt: T, receivedAt: T + 100, tier: 0, attempt: 0, fix: { lat: 52.52, lon: 13.405, time: T - 40_000, fixType: '3d', accuracyM: 8 }, batteryPct: 71,
    acknowledge: { consoleUrl: 'https://nrec.example/console/#/alarms/{deviceId}/{alarmId}' }, ...o,
  }, T + 5000);
}

const webhookSettings = (retries = 3): ChannelSettings => ({ webhook: { timeoutMs: 500, retries, backoffMs: 10 } });

describe('webhook channel', () => {
  it('posts the notice as JSON, signed over timestamp and body so the receiver can verify it, with the idempotency key', async () => {
    const rx = cleanup.add(await HttpReceiver.start(), (r) => r.close());
    const n = notice();
    const out = await new WebhookChannel().send(n, { channel: 'webhook', url: rx.url('/hook?ward=3'), secret: SECRET }, webhookSettings());
    expect(out).toEqual({ tries: 1, detail: 'HTTP 200' });
    const [r] = rx.requests;
    expect(r.method).toBe('POST');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers[IDEMPOTENCY_HEADER]).toBe('dev-1/a-1:0:0:webhook:ward');
    const h = { timestamp: r.headers[TIMESTAMP_HEADER] as string, signature: r.headers[SIGNATURE_HEADER] as string };
    expect(Math.abs(Number(h.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    expect(verifyWebhook(SECRET, h, r.body)).toEqual({ ok: true });
    expect(JSON.parse(r.body)).toEqual(JSON.parse(JSON.stringify(n)));
    // What a receiver must refuse: another secret, a changed body, an old timestamp replayed.
    expect(verifyWebhook('another-secret-of-enough-length', h, r.body)).toEqual({ ok: false, reason: 'signature does not match' });
    expect(verifyWebhook(SECRET, h, r.body.replace('a-1', 'a-2'))).toEqual({ ok: false, reason: 'signature does not match' });
    expect(verifyWebhook(SECRET, h, r.body, { nowMs: Number(h.timestamp) * 1000 + 301_000 })).toMatchObject({ ok: false, reason: expect.stringMatching(/^timestamp is 301 s away/) });
    expect(verifyWebhook(SECRET, { timestamp: h.timestamp }, r.body)).toEqual({ ok: false, reason: 'missing or malformed x-nrec-signature' });
    // The scheme, spelled out: hex HMAC-SHA256 of "<timestamp>.<body>".
    const { createHmac } = await import('node:crypto');
    expect(h.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(`${h.timestamp}.${r.body}`).digest('hex')}`);
    expect(signWebhook(SECRET, 1, '{}')).toBe(`sha256=${createHmac('sha256', SECRET).update('1.{}').digest('hex')}`);
  });

  it('retries 5xx, 429 and timeouts with the same key, each try signed afresh; a 4xx is final', async () => {
    const rx = cleanup.add(await HttpReceiver.start(), (r) => r.close());
    const plan: Array<number | 'hang'> = [503, 'hang', 429, 200];
    rx.respond = () => plan.shift() ?? 200;
    const out = await new WebhookChannel().send(notice(), { channel: 'webhook', url: rx.url('/hook'), secret: SECRET }, webhookSettings());
    expect(out.tries).toBe(4);
    expect(new Set(rx.requests.map((r) => r.headers[IDEMPOTENCY_HEADER]))).toEqual(new Set(['dev-1/a-1:0:0:webhook:ward']));
    for (const r of rx.requests) expect(verifyWebhook(SECRET, { timestamp: r.headers[TIMESTAMP_HEADER] as string, signature: r.headers[SIGNATURE_HEADER] as string }, r.body).ok).toBe(true);

    rx.respond = () => 400;
    const err = await new WebhookChannel().send(notice(), { channel: 'webhook', url: rx.url('/x'), secret: SECRET }, webhookSettings()).catch((e: ChannelError) => e);
    expect(err).toBeInstanceOf(ChannelError);
    expect((err as ChannelError).message).toBe(`HTTP 400 Bad Request from webhook 127.0.0.1:${rx.port} (not retried)`);
    expect(rx.at('/x')).toHaveLength(1);

    rx.respond = () => 500;
    await expect(new WebhookChannel().send(notice(), { channel: 'webhook', url: rx.url('/y'), secret: SECRET }, webhookSettings(2))).rejects.toThrow(`HTTP 500 Internal Server Error from webhook 127.0.0.1:${rx.port} (3 tries)`);
    const port = rx.port;
    await rx.close();
    await expect(new WebhookChannel().send(notice(), { channel: 'webhook', url: `http://127.0.0.1:${port}/z`, secret: SECRET }, webhookSettings(1))).rejects.toThrow(`cannot reach webhook 127.0.0.1:${port}: ECONNREFUSED (2 tries)`);
  });
});

describe('SMS gateway channel', () => {
  it('fills the URL, headers and body templates with values escaped for where they land', async () => {
    const rx = cleanup.add(await HttpReceiver.start(), (r) => r.close());
    const book = await parseContacts(JSON.stringify({
      channels: { sms: { url: `${rx.url('/send')}?apikey={credentials.key}&ref={key}`, headers: { Authorization: 'Basic {basicAuth}', 'X-Device': '{deviceName}' }, body: '{"to":"{to}","text":"{text}","map":"{mapUrl}"}', credentialsFile: 'sms.json' } },
      contacts: {},
    }), '/etc/nrec/contacts.json', { readSecret: async () => ({ text: '{"key":"k&y=1","user":"nrec","password":"p@ss"}', mode: 0o600 }) });
    const n = notice({ key: 'dev-1/a-1:1:0:sms:anna' });
    const out = await new SmsChannel().send(n, { channel: 'sms', to: '+4915112345678' }, book.channels);
    expect(out).toEqual({ tries: 1, detail: 'HTTP 200' });
    const [r] = rx.requests;
    expect(r.url).toBe(`/send?apikey=k%26y%3D1&ref=dev-1%2Fa-1%3A1%3A0%3Asms%3Aanna`);
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from('nrec:p@ss').toString('base64')}`);
    expect(r.headers['x-device']).toBe('Maria "M" K. ward 3');
    expect(r.headers['content-type']).toBe('application/json');
    const body = JSON.parse(r.body) as { to: string; text: string; map: string };
    expect(body).toEqual({ to: '+4915112345678', text: n.short, map: n.mapUrl });
    expect(body.text).toContain('SOS Maria "M" K.\nward 3 (dev-1)');
    expect(body.text).toContain('52.52000,13.40500 ±8m 45 s old');
  });

  it('sends a form body URL-encoded, and retries a failing gateway', async () => {
    const rx = cleanup.add(await HttpReceiver.start(), (r) => r.close());
    const plan = [502, 200];
    rx.respond = () => plan.shift() ?? 200;
    const book = await parseContacts(JSON.stringify({
      channels: { sms: { url: rx.url('/form'), body: 'To={to}&Body={text}', bodyFormat: 'form', backoffMs: 10 } }, contacts: {},
    }), '/c.json');
    const out = await new SmsChannel().send(notice(), { channel: 'sms', to: '+4915112345678' }, book.channels);
    expect(out.tries).toBe(2);
    const p = new URLSearchParams(rx.requests[1].body);
    expect([p.get('To'), p.get('Body')]).toEqual(['+4915112345678', notice().short]);
    expect(rx.requests[1].headers['content-type']).toBe('application/x-www-form-urlencoded');
  });
});

describe('email channel', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki([]);
  });
  afterAll(() => pki.remove());

  /** The channel settings as the contacts file gives them: credentials in a 0600 file beside it, the CA by absolute path. */
  async function settings(smtp: SmtpReceiver, o: { trustCa?: boolean; pass?: string } = {}): Promise<ChannelSettings> {
    const dir = cleanup.add(await makeTempDir('nrec-email-'), (d) => d.remove());
    await writeFile(dir.file('smtp.json'), JSON.stringify({ user: 'desk', pass: o.pass ?? 'hunter22' }), { mode: 0o600 });
    const tls = o.trustCa === false ? {} : { tls: { caFile: pki.ca } };
    const text = JSON.stringify({ channels: { email: { host: '127.0.0.1', port: smtp.port, from: 'nrec alarms <alarms@nrec.example>', credentialsFile: 'smtp.json', timeoutMs: 5000, ...tls } }, contacts: {} });
    return (await parseContacts(text, dir.file('contacts.json'))).channels;
  }

  it('sends over STARTTLS with credentials from a file, trusting the CA from a file; Message-ID from the idempotency key', async () => {
    const smtp = cleanup.add(await SmtpReceiver.start({ keyFile: pki.server.key, certFile: pki.server.cert }, { user: 'desk', pass: 'hunter22' }), (s) => s.close());
    const s = await settings(smtp);
    const n = notice({ key: 'dev-1/a-1:0:0:email:ward' });
    const out = await new EmailChannel().send(n, { channel: 'email', to: 'ward3@example.org' }, s);
    expect(out.tries).toBe(1);
    expect(out.detail).toMatch(/^250 /);
    const [m] = smtp.mails;
    expect(m).toMatchObject({ from: 'alarms@nrec.example', to: ['ward3@example.org'], user: 'desk', secure: true });
    expect(m.headers['x-nrec-alarm-id']).toBe('a-1');
    expect(m.headers['x-nrec-idempotency-key']).toBe('dev-1/a-1:0:0:email:ward');
    expect(m.headers['message-id']).toMatch(/^<[0-9a-f]{32}@nrec-alarm-desk>$/);
    expect(m.text).toContain(n.mapUrl!);
    expect(m.text).toContain('Acknowledge: https://nrec.example/console/#/alarms/dev-1/a-1');
    expect(m.text).toContain('Last position: 52.520000, 13.405000 ±8 m, 45 s old');
  });

  it('refuses a server certificate it cannot verify, and says why a login failed, without the password', async () => {
    const smtp = cleanup.add(await SmtpReceiver.start({ keyFile: pki.server.key, certFile: pki.server.cert }, { user: 'desk', pass: 'hunter22' }), (s) => s.close());
    const untrusted = await settings(smtp, { trustCa: false });
    const e1 = await new EmailChannel().send(notice(), { channel: 'email', to: 'a@example.org' }, untrusted).catch((e: Error) => e);
    expect(e1).toBeInstanceOf(ChannelError);
    expect((e1 as Error).message).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*(certificate|self.signed|issuer)/i);
    const wrong = await settings(smtp, { pass: 'wrong-password-x' });
    const e2 = (await new EmailChannel().send(notice(), { channel: 'email', to: 'a@example.org' }, wrong).catch((e: Error) => e)) as Error;
    expect(e2.message).toMatch(/EAUTH 535/);
    expect(e2.message).not.toContain('wrong-password-x');
    expect(smtp.mails).toEqual([]);
  });
});
