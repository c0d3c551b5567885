import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { ChannelSettings, Target } from '../contacts/book.js';
import type { Notice } from '../notice.js';
import { ChannelError, type Channel, type SendOutcome } from './channel.js';

type EmailTarget = Extract<Target, { channel: 'email' }>;
type EmailSettings = NonNullable<ChannelSettings['email']>;

/**
 * E-mail over SMTP with nodemailer: STARTTLS required by default (or TLS from
 * the first byte with `secure`), credentials from a file, the CA to trust
 * from a file. The Message-ID is derived from the idempotency key, so a
 * notification sent twice (a desk that died mid-send) is one message to a
 * mail client that deduplicates.
 */
export class EmailChannel implements Channel<EmailTarget> {
  readonly kind = 'email' as const;
  /** One transport per settings object: a reloaded contacts file gets a new one. */
  readonly #transports = new WeakMap<EmailSettings, Transporter>();

  async send(notice: Notice, target: EmailTarget, settings: ChannelSettings): Promise<SendOutcome> {
    const s = settings.email;
    if (s === undefined) throw new ChannelError('no SMTP server is configured (/channels/email)', 0);
    let t = this.#transports.get(s);
    if (t === undefined) {
      t = nodemailer.createTransport({
        host: s.host, port: s.port, secure: s.secure, requireTLS: s.requireTLS && !s.secure,
        ...(s.auth !== undefined ? { auth: { user: s.auth.user, pass: s.auth.pass } } : {}),
        tls: { ...(s.tls.ca !== undefined ? { ca: s.tls.ca } : {}), rejectUnauthorized: s.tls.rejectUnauthorized, ...(s.tls.servername !== undefined ? { servername: s.tls.servername } : {}) },
        connectionTimeout: s.timeoutMs, greetingTimeout: s.timeoutMs, socketTimeout: s.timeoutMs,
      });
      this.#transports.set(s, t);
    }
    try {
      const info = await t.sendMail({
        from: s.from,
        to: target.to,
        subject: notice.subject,
        text: notice.text,
        messageId: `<${createHash('sha256').update(notice.key).digest('hex').slice(0, 32)}@nrec-alarm-desk>`,
        headers: { 'X-Nrec-Alarm-Id': notice.alarmId, 'X-Nrec-Device-Id': notice.deviceId, 'X-Nrec-Idempotency-Key': notice.key },
      });
      return { tries: 1, detail: String(info.response ?? 'accepted').slice(0, 200) };
    } catch (err) {
      const e = err as Error & { code?: string; responseCode?: number };
      throw new ChannelError(`SMTP ${s.host}:${s.port}: ${e.code ?? ''}${e.responseCode !== undefined ? ` ${e.responseCode}` : ''} ${e.message}`.replace(/\s+/g, ' ').trim().slice(0, 300), 1);
    }
  }
}
