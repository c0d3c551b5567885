import type { ChannelSettings, Target } from '../contacts/book.js';
import type { Notice } from '../notice.js';
import type { ChannelKind } from '../types.js';

/*
 * One small interface per way of telling a person. A channel sends one
 * notice to one target with the settings of the contacts file in force,
 * retries what its medium allows (HTTP 5xx, timeouts), and either resolves
 * with how it went or throws a ChannelError. Neither may carry a secret: they
 * are stored with the attempt and logged.
 */

export interface SendOutcome {
  /** Tries it took (1 + retries). */
  tries: number;
  /** What the far end said, for the record (HTTP status, SMTP response); never a secret. */
  detail?: string;
}

export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  readonly tries: number;

  constructor(message: string, tries: number) {
    super(message);
    this.tries = tries;
  }
}

export interface Channel<T extends Target = Target> {
  readonly kind: ChannelKind;
  send(notice: Notice, target: T, settings: ChannelSettings): Promise<SendOutcome>;
}

/** The address of a target for the record: URL host, e-mail address, phone number. */
export function targetAddress(t: Target): string {
  switch (t.channel) {
    case 'webhook':
      return new URL(t.url).host;
    case 'email':
    case 'sms':
      return t.to;
    case 'console':
      return 'console';
  }
}

/** The channels by kind. */
export type ChannelSet = { [K in ChannelKind]: Channel<Extract<Target, { channel: K }>> };
