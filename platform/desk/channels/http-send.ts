import { ChannelError } from './channel.js';

/*
 * One HTTP request with retries, for the webhook and the SMS gateway: a
 * network error, a timeout, a 429 or a 5xx is tried again after a back-off
 * that doubles (with jitter); any other non-2xx answer is final. `where` names
 * the far end in errors (a host, never a URL that might hold a credential).
 */

export interface HttpAttempt {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpRetry {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  where: string;
  /** Builds each try (a webhook signs every try with a fresh timestamp). */
  attempt: (n: number) => HttpAttempt;
}

const retryable = (status: number) => status === 429 || status >= 500;

export async function sendWithRetries(r: HttpRetry): Promise<{ status: number; tries: number }> {
  let last = '';
  for (let n = 1; ; n++) {
    const a = r.attempt(n);
    let status: number | undefined;
    try {
      const res = await fetch(a.url, { method: a.method, headers: a.headers, body: a.body, signal: AbortSignal.timeout(r.timeoutMs), redirect: 'error' });
      status = res.status;
      // The body is not kept: a gateway may echo what we sent, credentials included.
      await res.body?.cancel().catch(() => undefined);
      if (status >= 200 && status < 300) return { status, tries: n };
      last = `HTTP ${status}${res.statusText ? ` ${res.statusText}` : ''} from ${r.where}`;
      if (!retryable(status)) throw new ChannelError(`${last} (not retried)`, n);
    } catch (err) {
      if (err instanceof ChannelError) throw err;
      // Never the message itself: fetch puts the whole URL in some of them, and an SMS gateway's URL may hold a key.
      const e = err as Error & { cause?: { code?: string } };
      last = e.name === 'TimeoutError' ? `no answer from ${r.where} within ${r.timeoutMs} ms` : `cannot reach ${r.where}: ${e.cause?.code ?? e.name}`;
    }
    if (n > r.retries) throw new ChannelError(`${last} (${n} tr${n === 1 ? 'y' : 'ies'})`, n);
    const cap = r.backoffMs * 2 ** (n - 1);
    await new Promise((resolve) => setTimeout(resolve, cap / 2 + Math.random() * (cap / 2)));
  }
}
