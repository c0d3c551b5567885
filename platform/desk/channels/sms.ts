import type { ChannelSettings, Target } from '../contacts/book.js';
import type { Notice } from '../notice.js';
import { ChannelError, type Channel, type SendOutcome } from './channel.js';
import { sendWithRetries } from './http-send.js';
import { escapes, fill } from './template.js';

type SmsTarget = Extract<Target, { channel: 'sms' }>;

/**
 * SMS through an HTTP gateway, the way gateways expect it: a URL, a method,
 * headers and a body template with placeholders ({to}, {text},
 * {credentials.NAME}, …; see template.ts), values escaped for where they land.
 * Any 2xx is success; 5xx, 429 and timeouts are retried.
 */
export class SmsChannel implements Channel<SmsTarget> {
  readonly kind = 'sms' as const;

  async send(notice: Notice, target: SmsTarget, settings: ChannelSettings): Promise<SendOutcome> {
    const s = settings.sms;
    if (s === undefined) throw new ChannelError('no SMS gateway is configured (/channels/sms)', 0);
    const values: Record<string, string> = {
      to: target.to, text: notice.short, deviceId: notice.deviceId, deviceName: notice.deviceName, alarmId: notice.alarmId, key: notice.key, mapUrl: notice.mapUrl ?? '',
    };
    for (const [k, v] of Object.entries(s.credentials)) values[`credentials.${k}`] = v;
    if (s.credentials.user !== undefined && s.credentials.password !== undefined) values.basicAuth = Buffer.from(`${s.credentials.user}:${s.credentials.password}`).toString('base64');
    const url = fill(s.url, values, escapes.url);
    const headers: Record<string, string> = {};
    for (const [h, v] of Object.entries(s.headers)) headers[h.toLowerCase()] = fill(v, values, escapes.header);
    if (s.body !== undefined && headers['content-type'] === undefined) {
      headers['content-type'] = s.bodyFormat === 'json' ? 'application/json' : s.bodyFormat === 'form' ? 'application/x-www-form-urlencoded' : 'text/plain; charset=utf-8';
    }
    const body = s.body === undefined ? undefined : fill(s.body, values, escapes[s.bodyFormat]);
    const { status, tries } = await sendWithRetries({
      timeoutMs: s.timeoutMs, retries: s.retries, backoffMs: s.backoffMs,
      where: `SMS gateway ${new URL(s.url.replace(/\{[^}]*\}/g, 'x')).host}`,
      attempt: () => ({ url, method: s.method, headers, body }),
    });
    return { tries, detail: `HTTP ${status}` };
  }
}
