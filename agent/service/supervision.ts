import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../../lib/logger.js';
import { realScheduler } from '../../lib/scheduler.js';
import { HealthCommit } from '../update/health-commit.js';
import { OutcomeReporter, type UpdateEvent } from '../update/outcome-reporter.js';
import { systemdNotifier, watchdogIntervalMs, type Notifier } from './notify.js';
import { currentRelease } from './release.js';
import { installTestHooks } from './test-hooks.js';
import { Watchdog } from './watchdog.js';
import { WedgeDetector } from './wedge.js';

export interface SupervisionDeps {
  config: Config;
  logger: Logger;
  connected: () => boolean;
  queues: () => Record<string, { count: number; inFlight: number; oldestAt?: number | undefined }>;
  /** GPS link up; undefined when GPS is disabled. */
  gpsUp: () => boolean | undefined;
  /** Button line open; undefined when the button is disabled. */
  buttonUp: () => boolean | undefined;
  sendEvent: (e: UpdateEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface Supervision {
  /** Start-up finished: READY=1 to systemd, watchdog pings from now on. */
  ready(): void;
  stop(): Promise<void>;
}

/**
 * What the service manager and the updater see of the agent: READY=1 once
 * started, watchdog pings while it works (event loop turning, transport not
 * wedged), STOPPING=1 on the way out; and, for a release under test, the
 * health marker and the report of the update's outcome.
 */
export function startSupervision(d: SupervisionDeps): Supervision {
  const env = d.env ?? process.env;
  const notifier: Notifier = systemdNotifier({ env, logger: d.logger });
  const updateDir = join(d.config.dataDir, 'update');
  const removeHooks = installTestHooks(d.logger, env);
  const wedge = new WedgeDetector(d.config.service.transportWedgeS * 1000);
  const interval = watchdogIntervalMs(env);
  const watchdog = interval === undefined ? undefined : new Watchdog({
    notifier,
    intervalMs: interval,
    scheduler: realScheduler,
    logger: d.logger,
    unhealthy: () => {
      const q = Object.values(d.queues());
      const inFlight = q.reduce((n, l) => n + l.inFlight, 0);
      const sample = { connected: d.connected(), waiting: q.reduce((n, l) => n + l.count, 0) - inFlight, inFlight, progress: q.map((l) => `${l.count}:${l.inFlight}:${l.oldestAt ?? ''}`).join(',') };
      return wedge.wedged(sample, realScheduler.now()) ? `transport wedged: connected, messages waiting and none sent for ${d.config.service.transportWedgeS} s` : undefined;
    },
  });
  const health = new HealthCommit({
    updateDir,
    release: currentRelease(),
    logger: d.logger,
    notHealthy: () => {
      if (!d.connected()) return 'mqtt not connected';
      if (d.gpsUp() === false) return 'gps link not up';
      if (d.buttonUp() === false) return 'alarm button line not open';
      return undefined;
    },
  });
  const outcomes = new OutcomeReporter(updateDir, d.sendEvent, d.logger);
  return {
    ready() {
      const r = currentRelease();
      void notifier.notify('READY=1', `STATUS=nrec ${r.version} running`);
      watchdog?.start();
      if (watchdog) d.logger.info({ periodMs: watchdog.periodMs }, 'systemd watchdog armed');
      health.start();
      outcomes.start();
    },
    async stop() {
      watchdog?.stop();
      health.stop();
      outcomes.stop();
      removeHooks();
      await notifier.notify('STOPPING=1');
    },
  };
}
