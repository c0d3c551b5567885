import type { Logger } from '../../lib/logger.js';
import type { Scheduler, TimerHandle } from '../../lib/scheduler.js';
import type { Notifier } from './notify.js';

export interface WatchdogOptions {
  notifier: Notifier;
  /** WATCHDOG_USEC in ms; pings go out at half of it. */
  intervalMs: number;
  scheduler: Scheduler;
  logger: Logger;
  /** Asked before every ping, on the agent's own event loop; a reason string withholds the ping. */
  unhealthy: () => string | undefined;
}

/**
 * Pings the service manager's watchdog at half its period, and only while the
 * agent works. The decision is taken by a timer on the agent's event loop, so
 * a loop that stalls (a busy loop, a blocking call that never returns) sends
 * nothing and systemd restarts the service; a child process pinging on its
 * own clock would keep a hung agent alive. When `unhealthy` names a reason
 * (the transport wedged past its limit) the pings stop on purpose, for the
 * same outcome.
 */
export class Watchdog {
  readonly #o: WatchdogOptions;
  #timer: TimerHandle | undefined;
  #withheld: string | undefined;
  #stopped = false;

  constructor(o: WatchdogOptions) {
    this.#o = o;
  }

  get periodMs(): number {
    return this.#o.intervalMs / 2;
  }

  start(): void {
    this.#stopped = false;
    this.#tick();
  }

  #tick(): void {
    if (this.#stopped) return;
    const reason = this.#o.unhealthy();
    if (reason === undefined) {
      if (this.#withheld !== undefined) this.#o.logger.info({ was: this.#withheld }, 'watchdog pings resumed');
      this.#withheld = undefined;
      void this.#o.notifier.notify('WATCHDOG=1');
    } else if (this.#withheld !== reason) {
      this.#withheld = reason;
      this.#o.logger.warn({ reason }, 'watchdog pings withheld: the service manager will restart the agent');
    }
    this.#timer = this.#o.scheduler.setTimeout(() => this.#tick(), this.periodMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#o.scheduler.clearTimeout(this.#timer);
  }
}
