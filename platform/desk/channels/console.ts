import type { Target } from '../contacts/book.js';
import type { Channel, SendOutcome } from './channel.js';

type ConsoleTarget = Extract<Target, { channel: 'console' }>;

/**
 * The operator console: the desk's `change` event, which the API streams to
 * every console that is open. There is nothing to send here: the attempt is
 * recorded as sent, and the desk emits `change` once it is recorded. (Every
 * alarm is on the live stream anyway; a console contact puts it on the record
 * as one of the tier's notifications.)
 */
export class ConsoleChannel implements Channel<ConsoleTarget> {
  readonly kind = 'console' as const;

  async send(): Promise<SendOutcome> {
    return { tries: 1, detail: 'on the live stream' };
  }
}
