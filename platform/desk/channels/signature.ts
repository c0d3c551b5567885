import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * The webhook's signature, in the manner of Stripe's and GitHub's:
 *
 *   X-Nrec-Timestamp: 1767600000                      (Unix seconds, when this try was sent)
 *   X-Nrec-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *   Idempotency-Key:  <deviceId>/<alarmId>:<tier>:<attempt>:webhook:<contactId>
 *
 * A receiver recomputes the HMAC over the timestamp header, a dot and the
 * body bytes exactly as received, compares in constant time, and refuses a
 * timestamp more than five minutes away from its clock (a replayed request).
 * The idempotency key is the same for every retry of one notification, so a
 * receiver that got a retry it already handled can drop it.
 */

export const TIMESTAMP_HEADER = 'x-nrec-timestamp';
export const SIGNATURE_HEADER = 'x-nrec-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export function signWebhook(secret: string, timestampS: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** What a receiver does with a request; `body` is the raw body as received. */
export function verifyWebhook(secret: string, h: { timestamp?: string; signature?: string }, body: string | Buffer, o: { nowMs?: number; toleranceS?: number } = {}): Verdict {
  if (h.timestamp === undefined || !/^\d{1,12}$/.test(h.timestamp)) return { ok: false, reason: `missing or malformed ${TIMESTAMP_HEADER}` };
  if (h.signature === undefined || !/^sha256=[0-9a-f]{64}$/.test(h.signature)) return { ok: false, reason: `missing or malformed ${SIGNATURE_HEADER}` };
  const skew = Math.abs((o.nowMs ?? Date.now()) / 1000 - Number(h.timestamp));
  if (skew > (o.toleranceS ?? 300)) return { ok: false, reason: `timestamp is ${Math.round(skew)} s away from now` };
  const expected = Buffer.from(signWebhook(secret, Number(h.timestamp), Buffer.isBuffer(body) ? body.toString('utf8') : body));
  const given = Buffer.from(h.signature);
  return expected.length === given.length && timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'signature does not match' };
}
