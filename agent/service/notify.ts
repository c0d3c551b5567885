import { execFile } from 'node:child_process';
import type { Logger } from '../../lib/logger.js';

/**
 * Sends sd_notify(3) messages to the service manager. Node has no unix
 * datagram sockets and a native module is one more thing to build per
 * architecture, so each message goes through `systemd-notify`, which since
 * systemd 246 waits on a barrier until PID 1 has read the message (so its
 * early exit cannot make systemd drop it). The unit needs NotifyAccess=all
 * because the sender is a child of the agent, not the main process.
 */
export interface Notifier {
  /** True when a service manager listens (NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** Sends one message, e.g. "READY=1" or "WATCHDOG=1"; never throws. */
  notify(...states: string[]): Promise<void>;
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** The systemd-notify binary (default: PATH). */
  bin?: string;
}

/** A notifier for this process's environment; disabled (a no-op) when NOTIFY_SOCKET is unset. */
export function systemdNotifier(opts: NotifierOptions): Notifier {
  const env = opts.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return { enabled: false, notify: async () => undefined };
  const bin = opts.bin ?? 'systemd-notify';
  let failing = false;
  // One systemd-notify at a time, in order: two processes started back to back may deliver out of
  // order (a WATCHDOG=1 landing before the READY=1 decided first). A ping waiting behind a stuck one
  // is late, never early, which is the safe side for a watchdog.
  let last: Promise<void> = Promise.resolve();
  const send = (states: string[]) =>
      new Promise<void>((resolve) => {
        execFile(bin, states, { env: { ...env, NOTIFY_SOCKET: socket }, timeout: 10_000 }, (err, _stdout, stderr) => {
          // A fault is reported on change, not on every ping.
          if (err !== null && !failing) {
            failing = true;
            const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
            opts.logger.warn(
              { err: err.message, stderr: String(stderr).trim(), states },
              missing ? `${bin} not found: install the systemd package, or the service manager will not see the agent start and its watchdog will restart it` : 'systemd-notify failed; the service manager may restart the agent',
            );
          } else if (err === null && failing) {
            failing = false;
            opts.logger.info('systemd-notify works again');
          }
          resolve();
        });
      });
  return {
    enabled: true,
    notify: (...states: string[]) => (last = last.then(() => send(states))),
  };
}

/**
 * The watchdog period systemd asked for: WATCHDOG_USEC, for this process only
 * (WATCHDOG_PID, when set, must be ours). Undefined when there is no watchdog.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return usec / 1000;
}
