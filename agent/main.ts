import { join, resolve } from 'node:path';
import { parseCommandArgs } from '../lib/cli-args.js';
import { ensureDataDir } from './data-dir.js';
import { ButtonStatus } from './button/button-status.js';
import { AlarmService } from './alarm/alarm-service.js';
import { DiskReserve } from './alarm/disk-reserve.js';
import { ensurePrivateDir } from './config/private-files.js';
import { FileSosStore, monotonicMs, openInputLine, openOutputLine, PressPipeline, realScheduler, SosMachine, Feedback, type InputLine } from './button/index.js';
import { registerBuiltins } from './commands/builtin-commands.js';
import { CommandRegistry, type ResultBody } from './commands/command-registry.js';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { prepareBoot, rollBack, type PendingChange } from './config/commit-confirm.js';
import { ConfirmWatch } from './config/confirm-watch.js';
import { GpsService, type GeofenceEvent, type ReportReason } from './gps/gps-service.js';
import { registerGpsCommands } from './gps/gps-commands.js';
import { registerVisitCommands } from './commands/visit-commands.js';
import { HealthMonitor } from './health/index.js';
import { inboundTopic, type Fix as WireFix, type HealthBody } from '../protocol/index.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { Envelope } from './transport/envelope.js';
import { Outbox, type EvictedEvent } from './transport/outbox.js';
import { StorageReporter } from './transport/storage-reporter.js';
import { Transport } from './transport/transport.js';
import { sessionFromConfig } from './transport/session-config.js';
import { setupMedia, type MediaHandle } from './media/media-setup.js';
import { currentRelease } from './service/release.js';
import { startSupervision } from './service/supervision.js';
import { registerUpdateCommands } from './update/update-commands.js';

// The release's own version (its package.json), so the platform sees which release runs after an update.
export const AGENT_VERSION = currentRelease().version;

/**
 * `nrec agent --config FILE`: runs the recorder agent until SIGTERM/SIGINT. A commit-confirmed
 * configuration change restarts it in this process (stop, load the config on disk, start again);
 * a change it cannot start with is rolled back at once, and one that keeps it from starting at
 * all (a crash loop under systemd) is rolled back at the next start (see commit-confirm.ts).
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { options: { config: { type: 'string', short: 'c' } }, positionals: ['FILE'] });
  const configPath = resolve(values.config ?? positionals[0] ?? '/etc/nrec/config.json');
  let logger: Logger | undefined;
  // A stray rejection must not take the alarm down with it; log it loudly and carry on.
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason.message : String(reason);
    if (logger !== undefined) logger.error({ err }, 'unhandled rejection');
    else process.stderr.write(`nrec agent: unhandled rejection: ${err}\n`);
  });
  let signalled = false;
  const stopSignal = new Promise<'signal'>((r) => {
    const on = () => {
      signalled = true;
      r('signal');
    };
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
  });
  for (;;) {
    let pending: PendingChange | undefined;
    try {
      pending = await prepareBoot(configPath, Date.now());
    } catch (err) {
      // Without its state the change cannot be rolled back; start with what is on disk and say so.
      process.stderr.write(`nrec agent: ${(err as Error).message}; starting with the configuration on disk\n`);
    }
    let config: Config;
    try {
      config = await loadConfig(configPath);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (pending?.phase === 'pending') {
        await rollBack(configPath, pending, `the agent could not load it: ${err.message}`);
        continue;
      }
      process.stderr.write(`nrec agent: invalid configuration: ${err.message}\n`);
      return 2;
    }
    logger ??= createLogger('agent', { level: config.logLevel });
    logger.level = config.logLevel;
    let agent: RunningAgent;
    try {
      agent = await startAgent(config, configPath, logger, pending);
    } catch (err) {
      if (pending?.phase !== 'pending') {
        // It cannot do its job: exit naming the cause, for the service manager to restart it (docs/liveness.md).
        const cause = err instanceof Error ? err.message : String(err);
        logger.fatal({ err: cause }, 'agent cannot start');
        process.stderr.write(`nrec agent: cannot start: ${cause}\n`);
        return 1;
      }
      logger.error({ err: (err as Error).message, requestId: pending.requestId }, 'agent could not start with the changed configuration: rolling back');
      await rollBack(configPath, pending, `the agent could not start with it: ${(err as Error).message}`);
      continue;
    }
    const outcome = await Promise.race([stopSignal, agent.restart]);
    logger.info(outcome === 'signal' ? {} : { reason: outcome }, outcome === 'signal' ? 'stopping' : 'restarting with the configuration on disk');
    await agent.stop();
    if (signalled) return 0;
  }
}

/** A started agent: stop it, or learn that it wants to be restarted (and why). */
export interface RunningAgent {
  stop(): Promise<void>;
  /** Resolves when the agent asks for a restart with the configuration on disk. */
  readonly restart: Promise<string>;
}

/** Builds every module, wires their events, starts them. Returns a handle to stop them. */
export async function startAgent(config: Config, configPath: string, logger: Logger, pending?: PendingChange): Promise<RunningAgent> {
  const startedAt = Date.now();
  let requestRestart: (why: string) => void = () => undefined;
  const restart = new Promise<string>((r) => (requestRestart = r));
  await ensureDataDir(config.dataDir);
  // Private file modes: what was tightened is reported once the transport exists.
  const modeNotes: string[] = [];
  const dirNote = await ensurePrivateDir(config.dataDir, 'data directory (dataDir)');
  if (dirNote !== undefined) modeNotes.push(dirNote);
  // Taken before anything else writes: whatever fills the disk next, the alarm path keeps its own space.
  const reserve = new DiskReserve(join(config.dataDir, 'alarm-reserve'), { bytes: config.transport.alarmReserveBytes });
  await reserve.refill();
  if (reserve.heldBytes < reserve.bytes) logger.error({ heldBytes: reserve.heldBytes, wantedBytes: reserve.bytes }, 'disk too full for the whole alarm reserve; refilled when there is room');
  const outbox = Outbox.open(join(config.dataDir, 'outbox.db'), { capacityBytes: config.transport.outboxCapacityBytes, thinKeepEvery: config.transport.thinKeepEvery });
  const envelope = new Envelope(config.deviceId);
  const session = await sessionFromConfig(config, (note) => modeNotes.push(note));
  // Commands are recorded as received before the broker gets its PUBACK, and run after it: a
  // crash in between leaves them in commands.db, answered after the restart (see CommandRegistry).
  const commands = new CommandRegistry(join(config.dataDir, 'commands.db'), config.deviceId, logger);
  const commandReq = inboundTopic(config.deviceId, 'req');
  const beforeAck = (topic: string, payload: Buffer): void => {
    if (topic !== commandReq) return;
    try {
      commands.receive(payload);
    } catch (err) {
      // A full disk: handled from memory, as before; a crash now would leave it unanswered.
      logger.error({ err: (err as Error).message }, 'command not recorded as received');
    }
    setImmediate(() => runCommand(payload, false));
  };
  const transport = new Transport({
    envelope,
    outbox,
    logger,
    agentVersion: AGENT_VERSION,
    backfillBatch: config.transport.backfillBatch,
    session: { ...session, beforeAck },
    pump: {
      confirmTimeoutMs: config.transport.confirmTimeoutS * 1000,
      maxConfirmTimeoutMs: config.transport.confirmTimeoutMaxS * 1000,
      maxRefusedRetryMs: config.transport.refusedRetryMaxS * 1000,
    },
  });
  logger.info({ deviceId: config.deviceId, bootId: envelope.bootId, dataDir: config.dataDir }, 'agent starting');

  const storage = new StorageReporter((body) => transport.send('alarm', 'event', body));
  outbox.on('evicted', (e: EvictedEvent) => storage.onEvicted(e));
  for (const note of modeNotes) {
    logger.warn({ note }, 'private file modes');
    transport.event({ kind: 'security.file-mode', severity: 'warning', message: note });
  }
  // A reserve given up for an alarm comes back once the disk has room (a reserve's worth beyond it).
  const reserveRefill = setInterval(() => {
    if (reserve.releasedBytes === 0) return;
    void reserve.refill(reserve.bytes).then(
      (held) => (held === reserve.bytes ? logger.info({ heldBytes: held }, 'alarm disk reserve restored') : undefined),
      (err: Error) => logger.warn({ err: err.message }, 'alarm disk reserve not refilled'),
    );
  }, 30_000);
  reserveRefill.unref();

  /** Answers a request: its result is put in the outbox, and only then is the request forgotten. */
  const sendResult = async (r: ResultBody): Promise<void> => {
    await transport.send('result', 'result', r);
    commands.answered(r.requestId);
  };
  const runCommand = (payload: Buffer, afterRestart: boolean): void => {
    void commands.handle(payload, { afterRestart }).then((r) => (r ? sendResult(r) : undefined)).catch((err: Error) => logger.error({ err: err.message }, 'command handling failed'));
  };

  const gps = new GpsService(config.gps, logger, config.health.clockSyncFile);
  envelope.setClock(gps.messageClock);
  const health = new HealthMonitor({
    intervalMs: config.health.intervalS * 1000,
    powerSupplyRoot: config.health.powerSupplyRoot,
    thermalRoot: config.health.thermalRoot,
    clockSyncFile: config.health.clockSyncFile,
    dataDir: config.dataDir,
    quotaBytes: config.transport.outboxCapacityBytes + config.media.quotaBytes + config.transport.alarmReserveBytes,
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
  // Refused publishes (MQTT 5 reason codes): reported once per change, and listed in every health report.
  health.registerState('transport', () => ({ refused: transport.refusals().map((r) => ({ topic: r.topic, reasonCode: r.reasonCode, reason: r.reason })) }));
  transport.on('refused', (r) => {
    transport.event({ kind: 'transport.refused', severity: 'critical', message: `broker refuses publishes to ${r.topic}: ${r.reason} (reason code ${r.reasonCode}); kept and retried`, data: { topic: r.topic, reasonCode: r.reasonCode } }, 'alarm');
    void health.check();
  });
  transport.on('accepted', ({ topic }) => {
    transport.event({ kind: 'transport.accepted', severity: 'info', message: `broker accepts publishes to ${topic} again`, data: { topic } }, 'alarm');
    void health.check();
  });
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
    requestRestart: (why) => requestRestart(why),
    applyConfig: (next) => {
      logger.level = next.logLevel;
      gps.applyConfig(next.gps);
    },
    locate: async () => (gps.locateNow() ? { sent: true, fix: gps.lastFix() } : { sent: false, reason: 'no fix yet' }),
  });
  registerUpdateCommands(commands, { config, logger });

  const stops: Array<() => Promise<void> | void> = [];
  let media: MediaHandle | undefined;
  if (config.media.enabled) {
    try {
      media = await setupMedia({
        config, logger, envelope, outbox, transport, commands, session, reserve,
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

  /** The alarm button's line is watched (a commit-confirmed change and a release under test need it). */
  let buttonUp = false;
  if (config.button.enabled) {
    const b = config.button;
    // Preallocated now, written in place: saving the SOS state never needs a free block (see FileSosStore).
    const sosStore = new FileSosStore(join(config.dataDir, 'sos-state.dat'), join(config.dataDir, 'sos-state.json'));
    const sos = new SosMachine(realScheduler, sosStore, { resendIntervalMs: b.resendS * 1000 });
    if (sos.loadFault !== undefined) {
      logger.error({ err: sos.loadFault.message }, 'SOS state unreadable: starting idle');
      transport.event({ kind: 'button.fault', severity: 'critical', message: `SOS state could not be read, alarm state reset: ${sos.loadFault.message}` }, 'alarm');
    }
    const alarms = new AlarmService({ sos, transport, commands, logger, reserve, lastFix: () => gps.lastFix(), batteryPct: () => health.batteryPct(), onRaise: [() => gps.sosBurst(), (alarmId) => media?.onSos(alarmId)] });
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
      buttonUp = false;
      transport.event({ kind: 'button.fault', severity: 'critical', message: `alarm button: ${e.reason}` });
    });
    pipeline.on('recovered', (e: { reason: string }) => {
      button.ok();
      buttonUp = true;
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
        buttonUp = true;
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
      sosStore.close();
      await line.stop();
    });
  }

  const supervision = startSupervision({
    config, logger,
    connected: () => transport.session.connected,
    queues: () => outbox.stats(),
    gpsUp: () => (config.gps.enabled ? gps.linkState === 'connected' : undefined),
    buttonUp: () => (config.button.enabled ? buttonUp : undefined),
    sendEvent: (e) => transport.event(e),
  });
  // A configuration change waiting for confirmation (or for its outcome to be reported); it answers its own config.set.
  const confirm = pending === undefined ? undefined : new ConfirmWatch({
    configPath, pending, commands, sendResult, logger,
    event: (body, urgent) => transport.event(body, urgent ? 'alarm' : 'status'),
    probe: () => ({
      connected: transport.session.connected,
      gps: config.gps.enabled ? gps.linkState === 'connected' : undefined,
      button: config.button.enabled ? buttonUp : undefined,
    }),
    requestRestart: (why) => requestRestart(why),
  });
  // Everything is registered now: answer what a crash or power cut left unanswered (results go out once connected).
  for (const u of commands.unanswered()) {
    if (!u.deferred) runCommand(u.payload, true);
  }
  transport.start();
  confirm?.start();
  logger.info('agent ready');
  supervision.ready();
  return {
    restart,
    async stop() {
      await supervision.stop();
      confirm?.stop();
      await gps.stop();
      // Button first (no new alarms), then media (closes the session: last chunk, manifest).
      for (const s of stops.reverse()) await s();
      // While the link is up, give queued messages and the last chunks a few seconds to
      // reach the platform; whatever does not is durable and goes out after the restart.
      const deadline = Date.now() + config.transport.shutdownDrainS * 1000;
      while (Date.now() < deadline && transport.session.connected && (outbox.totalBytes > 0 || (media?.uploader.pendingChunks ?? 0) > 0)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      clearInterval(reserveRefill);
      await health.stop();
      await media?.close();
      await transport.stop();
      storage.dispose();
      commands.close();
      outbox.close();
    },
  };
}
