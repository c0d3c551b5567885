export { ChannelError, targetAddress, type Channel, type ChannelSet, type SendOutcome } from './channel.js';
export { WebhookChannel } from './webhook.js';
export { EmailChannel } from './email.js';
export { SmsChannel } from './sms.js';
export { ConsoleChannel } from './console.js';
export { signWebhook, verifyWebhook, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, type Verdict } from './signature.js';

import { ConsoleChannel } from './console.js';
import { EmailChannel } from './email.js';
import { SmsChannel } from './sms.js';
import { WebhookChannel } from './webhook.js';
import type { ChannelSet } from './channel.js';

/** The production channels. */
export function defaultChannels(): ChannelSet {
  return { webhook: new WebhookChannel(), email: new EmailChannel(), sms: new SmsChannel(), console: new ConsoleChannel() };
}
