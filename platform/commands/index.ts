/*
 * The durable command sender: what the platform sends to devices (alarm.ack,
 * alarm.resolve, anything `POST /api/devices/{id}/commands` or
 * `nrec command` asks for), recorded in the store first, re-published with the
 * same request id until the device's result is stored or the command expires,
 * and resumed from the store after a restart.
 *
 * Wiring (the ingest's composition, next to the alarm desk):
 *
 *   const commands = await createCommandSender({ store, ingest, logger });
 *   const c = await commands.send('nurse-7', 'ping', {}, { by: 'alice', ttlMs: 60_000 });
 *   const answered = await commands.waitForResult(c.requestId, 10_000); // undefined: no answer yet
 *   commands.on('settled', (c) => …);   // answered or expired
 *   …
 *   await commands.stop();              // before ingest.stop(), which closes the store
 *
 * `store` is the PlatformStore the ingest commits to (openStore), `ingest` the
 * Ingest (it publishes, and reports the results it stores). Options: see
 * CommandSenderOptions. `send` throws an Error with a reason for a bad device
 * id, name, args or ttl (the API answers 400 with it); with a `requestId`
 * already used it returns the command recorded under it (idempotent).
 */
import { CommandSender, type CommandSenderOptions } from './command-sender.js';

export { CommandSender, type CommandIngest, type CommandSenderEvents, type CommandSenderOptions } from './command-sender.js';
export { republishDelay } from './republish.js';
export type { CommandSenderApi, SentCommand } from '../desk/types.js';

/** Builds the sender and starts it: it listens to the ingest and resumes the commands pending in the store. */
export async function createCommandSender(o: CommandSenderOptions): Promise<CommandSender> {
  const sender = new CommandSender(o);
  await sender.start();
  return sender;
}
