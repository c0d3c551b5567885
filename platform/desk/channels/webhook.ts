import type { ChannelSettings, Target } from '../contacts/book.js';
import type { Notice } from '../notice.js';
import type { Channel, SendOutcome } from './channel.js';
import { sendWithRetries } from './http-send.js';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './signature.js';

type WebhookTarget = Extract<Target, { channel: 'webhook' }>;

/** JSON POST of the notice, signed (signature.ts), retried on 5xx, 429, timeouts and network errors. */
export class WebhookChannel implements Channel<WebhookTarget> {
  readonly kind = 'webhook' as const;
  readonly #now: () => number;

  constructor(o: { now?: () => number } = {}) {
    this.#now = o.now ?? Date.now;
  }

  async send(notice: Notice, target: WebhookTarget, settings: ChannelSettings): Promise<SendOutcome> {
    const body = JSON.stringify(notice);
    const s = settings.webhook;
    const { status, tries } = await sendWithRetries({
      ...s,
      where: `webhook ${new URL(target.url).host}`,
      attempt: () => {
        const ts = Math.floor(this.#now() / 1000);
        return {
          url: target.url,
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'nrec-alarm-desk/1',
            [TIMESTAMP_HEADER]: String(ts),
            [SIGNATURE_HEADER]: signWebhook(target.secret, ts, body),
            [IDEMPOTENCY_HEADER]: notice.key,
          },
        };
      },
    });
    return { tries, detail: `HTTP ${status}` };
  }
}
