import type { Static } from '@sinclair/typebox';
import type { Alarm, NotificationAttempt, SentCommand } from '../../protocol/api.js';
import type { DeskAlarm, NotificationAttempt as DeskAttempt, SentCommand as DeskSentCommand } from '../desk/types.js';

/*
 * Compile-time check that the alarm desk's contract (platform/desk/types.ts)
 * and the API's published schemas (protocol/api.ts) describe the same
 * objects: if either side changes alone, this file stops compiling.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;

export const CONTRACT_MATCHES: [
  Same<Static<typeof Alarm>, DeskAlarm>,
  Same<Static<typeof NotificationAttempt>, DeskAttempt>,
  Same<Static<typeof SentCommand>, DeskSentCommand>,
] = [true, true, true];
