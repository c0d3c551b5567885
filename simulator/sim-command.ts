import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { numberArg, parseCommandArgs, UsageError } from '../lib/cli-args.js';
import { createLogger } from '../lib/logger.js';
import { CHAIN_FILE, readChainFile } from '../platform/ingest/evidence/index.js';
import { readStream } from '../platform/ingest/index.js';
import { parseListen } from '../platform/api/listen-address.js';
import { newToken } from '../platform/api/tokens.js';
import { Platform } from '../platform/platform.js';
import { readRejected } from '../platform/store/read-back.js';
import { SimOperator } from './sim-operator.js';
import { World } from './world.js';

/** What the simulator's device sent that the ingest stored, counted for that device only (a shared broker carries others). */
export interface SimSummary {
  devices: number;
  locations: number;
  alarms: number;
  alarmStates: Record<string, string>;
  /** Notifications the simulated emergency contact received (signature verified), and who acknowledged. */
  notified: number;
  acknowledgedBy: Record<string, string>;
  /** Evidence chunks stored (not messages: a chunk travels as a header and parts, a session adds a manifest). */
  evidence: number;
  events: number;
  rejected: number;
  /** Capabilities the device reported unavailable, with why (also printed on the console as they arrive). */
  unavailable: string[];
  store: string;
}

/** `nrec sim`: the whole system on one laptop. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      duration: { type: 'string' },
      store: { type: 'string' },
      broker: { type: 'string' },
      device: { type: 'string', default: 'sim-001' },
      'sos-at': { type: 'string' },
      'ack-after': { type: 'string', default: '3' },
      'no-media': { type: 'boolean', default: false },
      http: { type: 'string', default: '127.0.0.1:0' },
    },
  });
  let listen: { host: string; port: number };
  try {
    listen = parseListen(values.http);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const duration = values.duration === undefined ? Number.POSITIVE_INFINITY : numberArg('--duration', values.duration, 0)!;
  if (!(duration > 0)) throw new UsageError(`--duration must be a positive number of seconds, got "${values.duration}"`);
  const sosAt = values['sos-at'] === 'none' ? undefined : numberArg('--sos-at', values['sos-at'], 0) ?? (Number.isFinite(duration) ? Math.max(3, duration / 2) : 10);
  const ackAfterMs = values['ack-after'] === 'none' ? undefined : numberArg('--ack-after', values['ack-after'], 0)! * 1000;
  const logger = createLogger('sim', { level: process.env.NREC_LOG_LEVEL ?? 'warn' });
  const say = (line: string) => process.stderr.write(`${tty ? '\r\x1b[K' : ''}nrec sim: ${line}\n`);
  const tty = process.stderr.isTTY === true;

  const media = !values['no-media'];
  const world = await World.create({ logger, brokerUrl: values.broker, storeDir: values.store, deviceId: values.device, media, keepWorkDir: true, ingest: false });
  const me = world.deviceId;
  // The platform as it runs in production, in this process: ingest, alarm desk, command sender, API and console.
  const operator = await SimOperator.start(world.workDir, me);
  const platform = await Platform.start({
    brokerUrl: world.brokerUrl, storeDir: world.storeDir, logger, username: world.platformLogin?.username, password: world.platformLogin?.password,
    contactsFile: operator.contactsFile, http: { ...listen, tiles: null },
  });
  const api = platform.api!.url;
  const token = newToken();
  await platform.store.createToken({ id: token.id, name: 'sim-operator', role: 'operator', hash: token.hash, createdAt: Date.now() });
  const tokenFile = join(world.workDir, 'operator.token');
  await writeFile(tokenFile, `${token.token}\n`, { mode: 0o600 });
  const ingest = platform.ingest;
  say(`broker ${values.broker ? world.brokerUrl : `${world.brokerUrl} (embedded)`}, GPS link via ${world.gps.via}, store ${world.storeDir}, agent log ${world.workDir}/agent.log`);
  say(`operator console ${api}/console/ (sign in with the token in ${tokenFile}); the simulated contact's webhook is ${operator.url}`);
  if (!media) say('evidence capture: off (--no-media)');
  const counts = { locations: 0, events: 0, media: 0 };
  const alarms = new Map<string, string>();
  const unavailable = new Map<string, string>();
  ingest.on('stored', (deviceId: string, stream: string, msg: { alarmId?: string; state?: string; kind?: string; severity?: string; message?: string; backfill?: boolean }) => {
    if (deviceId !== me) return;
    if (stream === 'location') counts.locations++;
    if (stream === 'media') counts.media++;
    if (stream === 'event') {
      counts.events++;
      // A fault the device reports is a capability the simulation runs without: say so where the user looks.
      if (msg.severity !== 'info' && msg.kind !== undefined && msg.message !== undefined && unavailable.get(msg.kind) !== msg.message) {
        unavailable.set(msg.kind, msg.message);
        say(`${msg.severity === 'critical' ? 'UNAVAILABLE' : 'warning'}: ${msg.message} [${msg.kind}]`);
      }
    }
    if (stream !== 'alarm' || msg.alarmId === undefined) return;
    const before = alarms.get(msg.alarmId);
    alarms.set(msg.alarmId, msg.state ?? '?');
    void before;
  });
  // The contact is told by the alarm desk (webhook); the operator acknowledges through the API, as at the console.
  const acknowledgedBy: Record<string, string> = {};
  const acking = new Set<string>();
  operator.on('notified', (n) => {
    if (n.deviceId !== me) return;
    say(`contact notified of alarm ${n.alarmId} (tier ${n.tier + 1}, attempt ${n.attempt + 1}) by webhook`);
    if (acking.has(n.alarmId) || ackAfterMs === undefined) return; // --ack-after none: yours to acknowledge, on the console
    acking.add(n.alarmId);
    setTimeout(() => {
      void SimOperator.acknowledge(api, token.token, n.deviceId, n.alarmId).then(
        (status) => {
          if (status === 200) {
            acknowledgedBy[n.alarmId] = 'sim-operator';
            say(`alarm ${n.alarmId} acknowledged by sim-operator through the API`);
          } else say(`acknowledging alarm ${n.alarmId} failed: HTTP ${status}`);
        },
        (err: Error) => say(`acknowledging alarm ${n.alarmId} failed: ${err.message}`),
      );
    }, ackAfterMs);
  });
  operator.on('forged', (why) => say(`a notification with a bad signature was refused: ${why}`));

  const started = Date.now();
  const status = () => {
    const line = `[sim ${Math.round((Date.now() - started) / 1000)}s] gps sent ${world.feed.sent.length} | locations ${counts.locations} | alarms ${alarms.size} ${[...alarms.values()].join(',')} | evidence msgs ${counts.media} | events ${counts.events}`;
    process.stderr.write(tty ? `\r${line.padEnd(100)}` : `${line}\n`);
  };
  const ticker = setInterval(status, tty ? 1000 : 5000);
  const sosTimer = sosAt === undefined ? undefined : setTimeout(() => void world.pressSos(), sosAt * 1000);

  await new Promise<void>((resolve) => {
    const t = Number.isFinite(duration) ? setTimeout(resolve, duration * 1000) : undefined;
    const stop = () => {
      if (t) clearTimeout(t);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(ticker);
  if (sosTimer) clearTimeout(sosTimer);
  status();
  if (tty) process.stderr.write('\n');
  await world.close();
  await platform.stop();
  await operator.close();
  const stored = (stream: string) => readStream(world.storeDir, me, stream).length;
  const summary: SimSummary = {
    devices: ['status', 'location', 'event', 'alarm', 'health'].some((s) => stored(s) > 0) ? 1 : 0,
    locations: stored('location'),
    alarms: alarms.size,
    alarmStates: Object.fromEntries(alarms),
    notified: operator.received.filter((n) => n.deviceId === me).length,
    acknowledgedBy,
    evidence: await storedChunks(world.storeDir, me),
    events: stored('event'),
    rejected: readRejected(world.storeDir).filter((r) => r.topic.split('/')[2] === me).length,
    unavailable: [...unavailable.values()],
    store: world.storeDir,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

/** Evidence chunks of one device in the ingest's store: the records of its sessions' hash chains. */
async function storedChunks(storeDir: string, deviceId: string): Promise<number> {
  const deviceDir = join(storeDir, 'evidence', deviceId);
  let total = 0;
  for (const session of await readdir(deviceDir).catch(() => [] as string[])) {
    const chain = await readChainFile(join(deviceDir, session, CHAIN_FILE)).catch(() => undefined);
    if (chain?.ok === true) total += chain.records.length;
  }
  return total;
}
