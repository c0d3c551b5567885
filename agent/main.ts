import { join, resolve } from 'node:path';
import { parseCommandArgs } from '../lib/cli-args.js';
import { NREC_VERSION } from '../lib/version.js';
import { ensureDataDir } from './data-dir.js';
import { AlarmService } from './alarm/alarm-service.js';
import { FileSosStore, monotonicMs, openInputLine, openOutputLine, PressPipeline, realScheduler, SosMachine, Feedback, type InputLine } from './button/index.js';
import { ButtonStatus } from './button/button-status.js';
import { registerBuiltins } from './commands/builtin-commands.js';
import { CommandRegistry } from './commands/command-registry.js';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { GpsService, type GeofenceEvent, type ReportReason } from './gps/gps-service.js';
import { registerGpsCommands } from './gps/gps-commands.js';
import { registerVisitCommands } from './commands/visit-commands.js';
import { HealthMonitor } from './health/index.js';
import type { Fix as WireFix, HealthBody } from '../protocol/index.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { Envelope } from './transport/envelope.js';
import { Outbox, type EvictedEvent } from './transport/outbox.js';
import { StorageReporter } from './transport/storage-reporter.js';
import { Transport } from './transport/transport.js';
import { sessionFromConfig } from './transport/session-config.js';
import { setupMedia, type MediaHandle } from './media/media-setup.js';

export const AGENT_VERSION = NREC_VERSION;

/**
 * `nrec agent --config FILE`: runs the recorder agent until SIGTERM/SIGINT.
 * A process that cannot do its job exits (2: bad configuration, every problem
 * listed; 1: cannot start, the cause named) so the service manager sees it and
 * restarts it; problems it can outlive (broker away, GPS unplugged, button
 * tools missing, no camera) are retried in the background and reported.
 * docs/liveness.md lists the decision for each.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { options: { config: { type: 'string', short: 'c' } }, positionals: ['FILE'] });
  const configPath = resolve(values.config ?? positionals[0] ?? '/etc/nrec/agent.json');
  let config: Config;
  try {
    config = await loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nrec agent: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger('agent', { level: config.logLevel });
  // A stray rejection must not take the alarm down with it; log it loudly and carry on.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'));
  let agent: { stop(): Promise<void> };
  try {
    agent = await startAgent(config, configPath, logger);
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: cause }, 'agent cannot start');
    process.stderr.write(`nrec agent: cannot start: ${cause}\n`);
    return 1;
  }
  await new Promise<void>((r) => {
    process.once('SIGTERM', r);
    process.once('SIGINT', r);
  });
  logger.info('stopping');
  await agent.stop();
  return 0;
}

/** Builds every module, wires their events, starts them. Returns a handle to stop them. */
export async function startAgent(config: Config, configPath: string, logger: Logger): Promise<{ stop(): Promise<void> }> {
  const startedAt = Date.now();
  await ensureDataDir(config.dataDir);
  const outbox = Outbox.open(join(config.dataDir, 'outbox.db'), { capacityBytes: config.transport.outboxCapacityBytes, thinKeepEvery: config.transport.thinKeepEvery });
  const envelope = new Envelope(config.deviceId);
  const session = await sessionFromConfig(config);
  const transport = new Transport({
    envelope,
    outbox,
    logger,
    agentVersion: AGENT_VERSION,
    backfillBatch: config.transport.backfillBatch,
    session,
  });
  logger.info({ deviceId: config.deviceId, bootId: envelope.bootId, dataDir: config.dataDir }, 'agent starting');

  const storage = new StorageReporter((body) => transport.send('alarm', 'event', body));
  outbox.on('evicted', (e: EvictedEvent) => storage.onEvicted(e));

  const commands = new CommandRegistry(join(config.dataDir, 'commands.db'), config.deviceId, logger);
  transport.on('command', (payload: Buffer) => {
    void commands.handle(payload).then(
      (r) => (r ? transport.send('result', 'result', r) : undefined),
      (err: Error) => logger.error({ err: err.message }, 'command handling failed'),
    );
  });

  const gps = new GpsService(config.gps, logger, config.health.clockSyncFile);
  envelope.setClock(gps.messageClock);
  const health = new HealthMonitor({
    intervalMs: config.health.intervalS * 1000,
    powerSupplyRoot: config.health.powerSupplyRoot,
    thermalRoot: config.health.thermalRoot,
    clockSyncFile: config.health.clockSyncFile,
    dataDir: config.dataDir,
    quotaBytes: config.transport.outboxCapacityBytes + config.media.quotaBytes,
    scheduler: realScheduler,
    queues: () => outbox.stats(),
    link: () => (transport.session.connected ? 'connected' : 'disconnected'),
  });
  health.on('report', (body: HealthBody) => {
    // Interval reports are not queued while offline: a day away would put ~1440 of them
    // ahead of the location backfill (status outranks location). Change reports are kept.
    if (body.trigger === 'interval' && !transport.session.connected) return;
    void transport.send('status', 'health', body).catch((err: Error) => logger.error({ err: err.message }, 'health report not stored'));
  });
  health.on('error', (err: Error) => logger.error({ err: err.message }, 'health report listener failed'));
  if (config.gps.enabled) {
    gps.on('report', (fix: WireFix, reason: ReportReason) => void transport.send('location', 'location', { fix, reason }).catch((err: Error) => logger.error({ err: err.message }, 'location not stored')));
    gps.on('link', (state: string, detail?: string) => {
      transport.event({ kind: 'gps.link', severity: state === 'connected' ? 'info' : 'warning', message: `gps ${state}${detail ? `: ${detail}` : ''}`, data: { state } });
      void health.check();
    });
    gps.on('geofence', (e: GeofenceEvent) => {
      transport.event({ kind: `geofence.${e.type}`, severity: 'info', message: `${e.type} ${e.fenceId} (${Math.round(e.distanceM)} m from centre)`, data: { fenceId: e.fenceId, distanceM: e.distanceM } });
    });
    // Skew in whole seconds, zero below one: a per-millisecond value would change on every fix and
    // every change is a reason for a health report.
    health.registerState('gps', () => {
      const skew = gps.skewMs;
      return { link: gps.linkState ?? 'off', clockSkewS: skew === undefined || Math.abs(skew) < 1000 ? 0 : Math.round(skew / 1000) };
    });
    registerGpsCommands(commands, gps);
    gps.start();
  }
  health.start();

  registerBuiltins(commands, {
    configPath,
    startedAt,
    applyConfig: (next) => {
      logger.level = next.logLevel;
      gps.applyConfig(next.gps);
    },
    locate: async () => (gps.locateNow() ? { sent: true, fix: gps.lastFix() } : { sent: false, reason: 'no fix yet' }),
  });

  const stops: Array<() => Promise<void> | void> = [];
  let media: MediaHandle | undefined;
  if (config.media.enabled) {
    try {
      media = await setupMedia({
        config, logger, envelope, outbox, transport, commands, session,
        position: () => gps.lastFix(),
      });
      const handle = media;
      health.registerState('recorder', () => ({ state: handle.recorderState(), pendingChunks: handle.uploader.pendingChunks, pendingBytes: handle.uploader.pendingBytes }));
      stops.push(() => handle.stop());
    } catch (err) {
      // No camera, no ffmpeg, a bad key file: evidence is unavailable, but GPS and the alarm must keep working.
      logger.error({ err: (err as Error).message }, 'media capture unavailable');
      transport.event({ kind: 'recorder.fault', severity: 'critical', message: `evidence capture unavailable: ${(err as Error).message}` });
    }
  }
  registerVisitCommands(commands, {
    gps,
    recording: media && { start: (visitId) => media!.startRecording(visitId), stop: () => media!.stopRecording() },
  });

  if (config.button.enabled) {
    const b = config.button;
    const sos = new SosMachine(realScheduler, new FileSosStore(join(config.dataDir, 'sos-state.json')), { resendIntervalMs: b.resendS * 1000 });
    const alarms = new AlarmService({ sos, transport, commands, logger, lastFix: () => gps.lastFix(), batteryPct: () => health.batteryPct(), onRaise: [() => gps.sosBurst(), (alarmId) => media?.onSos(alarmId)] });
    const lineConfig = { backend: b.backend, chip: b.chip, line: b.line, activeLow: b.activeLow, bias: b.bias, pollMs: b.pollMs, sysfsRoot: b.sysfsRoot, toolsDir: b.toolsDir };
    const line: InputLine = openInputLine(lineConfig, realScheduler, logger);
    const pipeline = new PressPipeline(line, realScheduler, {
      debounceMs: b.debounceMs,
      longPressMs: b.sosHoldMs,
      sosOnTriplePress: b.tripleIsSos,
      cancelWindowMs: b.cancelWindowS * 1000,
    });
    // The health report carries the button's state; a change is reported at once.
    const button = new ButtonStatus({ backend: b.backend, chip: b.chip, line: b.line }, () => void health.check());
    health.registerState('button', () => button.get());
    pipeline.on('press', (e) => alarms.onPress(e));
    pipeline.on('fault', (e: { reason: string }) => {
      button.fault(e.reason);
      transport.event({ kind: 'button.fault', severity: 'critical', message: `alarm button: ${e.reason}` });
    });
    pipeline.on('recovered', (e: { reason: string }) => {
      button.ok();
      transport.event({ kind: 'button.recovered', severity: 'info', message: `alarm button: ${e.reason}` });
    });
    if (b.feedbackLine !== undefined) {
      const out = openOutputLine({ ...lineConfig, line: b.feedbackLine, activeLow: false, bias: 'as-is' }, realScheduler, logger);
      const feedback = new Feedback(out, realScheduler);
      feedback.show(sos.state.phase);
      sos.on('transition', () => feedback.show(sos.state.phase));
      // close() releases the line: a gpioset left holding it keeps the process from exiting.
      stops.push(async () => {
        await feedback.dispose();
        await out.close();
      });
    }
    // The line may be missing at boot (gpio not yet exported, tools not installed):
    // keep trying in the background and report it; GPS and transport run meanwhile.
    let retry: NodeJS.Timeout | undefined;
    const startLine = async (attempt: number): Promise<void> => {
      try {
        await line.start();
        pipeline.reset(await line.read(), monotonicMs());
        button.ok();
        if (attempt > 0) {
          logger.info({ attempt }, 'alarm button available');
          transport.event({ kind: 'button.recovered', severity: 'info', message: 'alarm button available' });
        }
      } catch (err) {
        button.fault((err as Error).message);
        if (attempt === 0) {
          logger.error({ err: (err as Error).message }, 'alarm button unavailable; retrying in the background');
          transport.event({ kind: 'button.fault', severity: 'critical', message: `alarm button unavailable: ${(err as Error).message}` });
        }
        await line.stop().catch(() => undefined);
        retry = setTimeout(() => void startLine(attempt + 1), Math.min(5000, 250 * 2 ** attempt));
      }
    };
    await startLine(0);
    stops.push(async () => {
      if (retry) clearTimeout(retry);
      pipeline.dispose();
      sos.dispose();
      await line.stop();
    });
  }

  transport.start();
  logger.info('agent ready');
  return {
    async stop() {
      await gps.stop();
      // Button first (no new alarms), then media (closes the session: last chunk, manifest).
      for (const s of stops.reverse()) await s();
      // While the link is up, give queued messages and the last chunks a few seconds to
      // reach the platform; whatever does not is durable and goes out after the restart.
      const deadline = Date.now() + config.transport.shutdownDrainS * 1000;
      while (Date.now() < deadline && transport.session.connected && (outbox.totalBytes > 0 || (media?.uploader.pendingChunks ?? 0) > 0)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await health.stop();
      await media?.close();
      await transport.stop();
      storage.dispose();
      commands.close();
      outbox.close();
    },
  };
}
