import type { Logger } from '../../lib/logger.js';

/**
 * Test-only fault injection, off unless NREC_TEST_HOOKS=1 is in the
 * environment (the installed unit never sets it): SIGUSR2 blocks the event
 * loop for NREC_TEST_BLOCK_MS (default 5000), the way a runaway computation or
 * a blocking call would, so a test can watch the watchdog pings stop.
 */
export function installTestHooks(logger: Logger, env: NodeJS.ProcessEnv = process.env): () => void {
  if (env.NREC_TEST_HOOKS !== '1') return () => undefined;
  const ms = Number(env.NREC_TEST_BLOCK_MS ?? 5000);
  const onSignal = (): void => {
    logger.warn({ ms }, 'test hook: blocking the event loop');
    // Atomics.wait blocks this thread without spinning a core.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    logger.warn('test hook: event loop unblocked');
  };
  process.on('SIGUSR2', onSignal);
  return () => process.off('SIGUSR2', onSignal);
}
