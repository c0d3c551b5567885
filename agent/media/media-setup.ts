import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { bulkClientId, type Fix } from '../../protocol/index.js';
import type { ChunkRecord, Manifest } from '../../protocol/media.js';
import { filesystemSpace } from '../health/storage.js';
import type { CommandRegistry } from '../commands/command-registry.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../../lib/logger.js';
import { BulkPump } from '../transport/bulk-pump.js';
import type { Envelope } from '../transport/envelope.js';
import type { Outbox } from '../transport/outbox.js';
import type { Transport } from '../transport/transport.js';
import type { SessionBase } from '../transport/session-config.js';
import { buildCapturePlan, DEFAULT_CAPTURE } from './capture-profiles.js';
import { loadOrCreateDeviceKey } from './device-key.js';
import { detectVideoEncoder, locateFfmpeg, locateFfprobe } from './ffmpeg-locate.js';
import { MediaService } from './media-service.js';
import { ModeMachine } from './mode.js';
import { Recorder, type ChunkEvent } from './recorder.js';
import { SessionStore } from './session-store.js';
import { ChunkUploader } from './uploader.js';
import { FaultReporter } from './fault-reporter.js';

export interface MediaDeps {
  config: Config;
  logger: Logger;
  envelope: Envelope;
  outbox: Outbox;
  transport: Transport;
  commands: CommandRegistry;
  session: SessionBase;
  position: () => Fix | undefined;
  /** The alarm path's disk reserve: capture stops before the disk's free space, less what the reserve gave up, falls below its size. */
  reserve?: { readonly bytes: number; readonly releasedBytes: number };
}

export interface MediaHandle {
  service: MediaService;
  uploader: ChunkUploader;
  bulk: BulkPump;
  recorderState: () => string;
  startRecording(visitId: string): Promise<void>;
  stopRecording(): Promise<void>;
  onSos(alarmId: string): void;
  /** Stops capture and closes the open session (uploads continue). */
  stop(): Promise<void>;
  /** Disconnects the bulk connection and closes the upload queue. */
  close(): Promise<void>;
}

const newSessionId = () => randomBytes(9).toString('base64url');

/**
 * Evidence capture: ffmpeg recorder → mode machine (buffer, visit, SOS) →
 * signed hash chain → chunk uploader on the paced bulk connection; session
 * manifests through the outbox. The ingest's acknowledgements delete what it
 * has verified and stored. Disk quota: unuploaded evidence is never deleted;
 * when it alone fills the quota, capture stops and a storage alarm goes out.
 */
export async function setupMedia(d: MediaDeps): Promise<MediaHandle> {
  const { config, logger, transport } = d;
  const m = config.media;
  const dataDir = config.dataDir;
  const chunkDir = join(dataDir, 'chunks');
  const ffmpeg = await locateFfmpeg({ configPath: m.ffmpegPath });
  const ffprobe = await locateFfprobe(ffmpeg, { configPath: m.ffprobePath });
  const encoder = m.profile === 'audio' ? 'libx264' : await detectVideoEncoder(ffmpeg.path);
  logger.info({ ffmpeg: ffmpeg.path, source: ffmpeg.source, version: ffmpeg.version, ffprobe: ffprobe.path, ffprobeSource: ffprobe.source, encoder }, 'ffmpeg located');
  // A key the agent owns is tightened and reported, one it cannot tighten refused (see private-files.ts).
  const key = await loadOrCreateDeviceKey(join(dataDir, 'keys'), { repair: true });
  if (key.created) logger.info({ publicKey: key.publicPath }, 'device key created: register the public key with the platform');
  for (const note of key.notes) {
    logger.warn({ note }, 'device key file modes');
    transport.event({ kind: 'security.file-mode', severity: 'warning', message: note });
  }

  const settings = {
    ...DEFAULT_CAPTURE,
    profile: m.profile,
    videoDevice: m.videoDevice,
    audioDevice: m.audioDevice,
    withAudio: m.audio,
    width: m.width,
    height: m.height,
    fps: m.fps,
    videoBitrateK: m.videoKbps,
    audioBitrateK: m.audioKbps,
    chunkS: m.chunkS,
    encoder,
  };
  const recorder = new Recorder({ chunkDir, ffprobePath: ffprobe.path, plan: (n) => buildCapturePlan(ffmpeg.path, settings, chunkDir, n) });
  const mode = new ModeMachine<ChunkEvent>({ base: m.mode, bufferS: m.bufferS, postEventS: m.postEventS, now: Date.now, newSessionId });
  const sessions = new SessionStore(join(dataDir, 'sessions.db'));
  // The manifest is committed to the outbox before its session leaves sessions.db (see MediaService).
  const commitManifest = async (manifest: Manifest): Promise<void> => {
    await transport.send('manifest', 'media', { manifest }, { sub: 'manifest' });
  };
  const service = new MediaService({ deviceId: config.deviceId, recorder, mode, privateKey: key.privateKey, position: d.position, store: sessions, commitManifest });
  const uploader = new ChunkUploader({ dbPath: join(dataDir, 'uploads.db'), envelope: d.envelope, partBytes: config.transport.partBytes, logger });
  const t = config.transport;
  const bulk = new BulkPump({
    // Its own client id (never another device's; protocol/topics.ts) and, with the Mosquitto templates, its own listener.
    session: { ...d.session, clientId: bulkClientId(config.deviceId), url: config.mqtt.bulkUrl ?? d.session.url },
    source: uploader,
    logger,
    minKbps: t.bulkMinKbps,
    maxKbps: t.bulkMaxKbps,
    adaptive: t.bulkAdaptive,
    targetDelayMs: t.queueDelayTargetMs,
    maxInFlightBytes: t.maxInFlightBytes,
  });

  let storageHalted = false;
  let diskHalted = false;
  /**
   * The disk itself, whatever the quota: capture stops, an SOS recording included, while the free
   * space less what the alarm reserve has given up is below the reserve's size (that space is the
   * alarm path's), and resumes at twice that.
   */
  const enforceDiskFloor = async (): Promise<boolean> => {
    const floor = d.reserve?.bytes ?? 0;
    if (floor === 0) return false;
    const space = await filesystemSpace(chunkDir);
    if (space === undefined) return diskHalted;
    const room = space.freeBytes - (d.reserve?.releasedBytes ?? 0);
    if (!diskHalted && room < floor) {
      diskHalted = true;
      await service.haltCapture();
      logger.error({ freeBytes: space.freeBytes, keptForAlarmsBytes: floor }, 'disk nearly full: evidence capture stopped, SOS recording included, to keep room for alarms');
      transport.event({
        kind: 'storage',
        severity: 'critical',
        message: `disk nearly full (${space.freeBytes} bytes free, ${floor} kept for alarms): evidence capture stopped, an SOS recording included; nothing deleted`,
        data: { freeBytes: space.freeBytes, reserveBytes: floor, pendingChunks: uploader.pendingChunks },
      }, 'alarm');
    } else if (diskHalted && room >= 2 * floor) {
      diskHalted = false;
      logger.info({ freeBytes: space.freeBytes }, 'disk has room again; capture may resume');
      if (!storageHalted) await service.setBase(m.mode);
    }
    return diskHalted;
  };
  const enforceQuota = async (): Promise<void> => {
    if (await enforceDiskFloor()) return;
    const used = await dirBytes(chunkDir);
    if (used <= m.quotaBytes) {
      if (storageHalted && used < m.quotaBytes * 0.9) {
        storageHalted = false;
        logger.info({ used }, 'storage below quota again; capture may resume');
        await service.setBase(m.mode);
      }
      return;
    }
    // Acknowledged chunks are deleted on acknowledgement, buffered chunks roll off on their own;
    // what remains is evidence not yet uploaded, which is never deleted.
    // Once per episode: stopRecording() moves the session's end to "now", so calling it on every
    // chunk would keep the session open for ever. New visit recordings are refused while halted;
    // an SOS still records its post-event window (an alarm's evidence outranks the quota).
    if (!storageHalted) {
      storageHalted = true;
      await service.setBase('off');
      await service.stopRecording().catch(() => undefined);
      logger.error({ used, quota: m.quotaBytes }, 'media quota reached by unuploaded evidence: capture stopped');
      transport.event({
        kind: 'storage',
        severity: 'critical',
        message: `evidence storage full (${used} of ${m.quotaBytes} bytes, not yet uploaded): recording stopped, nothing deleted`,
        data: { usedBytes: used, quotaBytes: m.quotaBytes, pendingChunks: uploader.pendingChunks },
      }, 'alarm');
    }
  };

  // A signed chunk the upload queue could not take (a full disk) waits here, in order, and is
  // queued once the disk takes it: a chunk in a manifest must reach the ingest.
  const unqueued: Array<{ record: ChunkRecord; path: string }> = [];
  const queueUnqueued = (): void => {
    while (unqueued.length > 0) {
      const { record, path } = unqueued[0];
      try {
        uploader.enqueue(record, path, true);
      } catch (err) {
        if (unqueued.length === 1) logger.error({ err: (err as Error).message, path }, 'evidence chunk not queued for upload; kept, queued once the disk takes it');
        return;
      }
      unqueued.shift();
    }
  };
  // A missing camera fails every retry; the platform hears of it on change, with a reminder at most every 10 minutes.
  const faults = new FaultReporter();
  service.on('record', ({ record, path }) => {
    const recovered = faults.clear();
    if (recovered !== undefined) {
      logger.info({ reason: recovered.reason, occurrences: recovered.occurrences }, 'recorder recovered');
      transport.event({ kind: 'recorder.recovered', severity: 'info', message: `recorder recording again after: ${recovered.reason}`, data: { since: recovered.since, occurrences: recovered.occurrences } });
    }
    void enforceQuota().catch((err: Error) => logger.warn({ err: err.message }, 'storage check failed'));
    unqueued.push({ record, path });
    queueUnqueued();
  });
  service.on('manifest', (manifest) => logger.info({ sessionId: manifest.sessionId, chunks: manifest.chunks.length }, 'evidence session closed; manifest queued'));
  service.on('status', (s) => {
    if (s.state !== 'fault') {
      // While a fault persists the retries' start/run states are noise; otherwise each state is news.
      if (faults.active === undefined) logger.info({ recorder: s.state, reason: s.reason }, 'recorder');
      else logger.debug({ recorder: s.state, reason: s.reason }, 'recorder');
      return;
    }
    const report = faults.fault(s.reason ?? 'fault');
    if (report === undefined) {
      logger.debug({ recorder: s.state, reason: s.reason, occurrences: faults.active?.occurrences }, 'recorder fault persists');
      return;
    }
    const since = report.kind === 'reminder' ? ` (still, since ${new Date(report.since).toISOString()}, ${report.occurrences} attempts)` : '';
    logger.warn({ recorder: s.state, reason: report.reason, occurrences: report.occurrences }, report.kind === 'reminder' ? 'recorder fault persists' : 'recorder fault');
    transport.event({ kind: 'recorder.fault', severity: 'warning', message: `recorder: ${report.reason}${since}`, data: { reminder: report.kind === 'reminder', since: report.since, occurrences: report.occurrences } });
  });
  service.on('warning', (w) => logger.warn({ warning: w }, 'media'));
  uploader.on('lost', (path: string, why: string) => {
    transport.event({ kind: 'media.lost', severity: 'critical', message: `evidence chunk ${basename(path)} could not be uploaded: ${why}` });
  });

  transport.on('platformOnline', () => {
    const n = uploader.resendUnconfirmed();
    if (n > 0) logger.info({ chunks: n }, 'platform online: unconfirmed evidence chunks sent again');
  });
  transport.on('confirmed', (ids) => {
    let done: string[];
    try {
      done = uploader.onIngestAck(ids);
    } catch (err) {
      // A full or failing disk: the acknowledged items stay queued and are sent (and acknowledged) again.
      // Thrown from here it would reach the MQTT client's packet handler and the top of the process.
      logger.error({ err: (err as Error).message }, 'ingest acknowledgement not recorded');
      return;
    }
    for (const path of done) {
      // Once capture was halted by the quota, only these deletions free the disk: check again after each, so buffering resumes.
      const remove = () => unlink(path).catch((err: Error) => logger.warn({ path, err: err.message }, 'could not delete uploaded chunk')).then(() => {
        if (storageHalted || diskHalted) void enforceQuota();
      });
      if (m.retainAckedS > 0) setTimeout(() => void remove(), m.retainAckedS * 1000).unref();
      else void remove();
    }
    transport.kick();
  });

  const requireVisitId = (args: Record<string, unknown>): string => {
    const v = args.visitId;
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new Error('args.visitId must be 1-64 of [A-Za-z0-9_-]');
    return v;
  };
  d.commands.register('record.start', async (args) => {
    const visitId = requireVisitId(args);
    if (storageHalted) return { status: 'refused' as const, reason: `evidence storage is full (quota ${m.quotaBytes} bytes of evidence not yet uploaded): recording refused until uploads free space` };
    await service.startRecording(visitId);
    return { result: { recording: true, visitId } };
  }, { replaySafe: true }); // the same visit joins the session it opened
  d.commands.register('record.stop', async () => {
    await service.stopRecording();
    return { result: { recording: false } };
  }, { replaySafe: true });
  await mkdirp(chunkDir);
  // A session the last run left open (power cut, crash) carries on; any of its chunks that never
  // reached the upload queue (a crash between the two writes) is queued now: the ingest stores a
  // chunk once however often it comes.
  const restored = service.restore();
  const pending = uploader.pendingPaths();
  const known = new Set([...pending].map((p) => basename(p)));
  for (const { record, path } of restored) {
    known.add(basename(path));
    if (!pending.has(path) && existsSync(path)) uploader.enqueue(record, path, true);
  }
  const open = mode.session;
  if (open !== undefined) logger.info({ sessionId: open.sessionId, trigger: open.trigger, visitId: open.visitId, chunks: restored.filter((r) => r.record.meta.sessionId === open.sessionId).length }, 'evidence session resumed after restart');
  await recorder.salvage(known);
  await enforceDiskFloor();
  await service.start();
  bulk.start();
  // Chunks are checked as they are committed; this covers buffering (no commits) and a disk freed by others.
  const storageCheck = setInterval(() => {
    queueUnqueued();
    void enforceQuota().catch((err: Error) => logger.warn({ err: err.message }, 'storage check failed'));
  }, 10_000);
  storageCheck.unref();
  return {
    service,
    uploader,
    bulk,
    recorderState: () => recorder.state,
    startRecording: (visitId) => {
      if (storageHalted) return Promise.reject(new Error(`evidence storage is full (quota ${m.quotaBytes} bytes of evidence not yet uploaded): recording refused until uploads free space`));
      return service.startRecording(visitId);
    },
    stopRecording: () => service.stopRecording(),
    onSos: (alarmId) => {
      if (diskHalted) {
        logger.error({ alarmId }, 'SOS not recorded: the disk is nearly full (the alarm itself goes out)');
        return;
      }
      void service.onSos(alarmId).catch((err: Error) => logger.error({ err: err.message }, 'SOS recording failed'));
    },
    async stop() {
      clearInterval(storageCheck);
      await service.shutdown();
    },
    async close() {
      await bulk.stop();
      uploader.close();
      sessions.close();
    },
  };
}

async function mkdirp(dir: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, f)).catch(() => undefined);
    if (s?.isFile()) total += s.size;
  }
  return total;
}
