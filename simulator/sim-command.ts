import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logger.js';
import { readStream } from '../platform/ingest/index.js';
import { World } from './world.js';

const HELP = `usage: nrec sim [--duration SECONDS] [--store DIR] [--broker URL] [--device ID] [--sos-at SECONDS|none] [--ack-after SECONDS] [--no-media]
Runs broker (embedded unless --broker), ingest, a simulated GPS on a pty, a GPIO
button and the agent; presses SOS once; an operator acknowledges it. Prints a live
status line and, last, one line of JSON with what the ingest stored.`;

/** `nrec sim`: the whole system on one laptop. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        store: { type: 'string' },
        broker: { type: 'string' },
        device: { type: 'string', default: 'sim-001' },
        'sos-at': { type: 'string' },
        'ack-after': { type: 'string', default: '3' },
        'no-media': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`nrec sim: ${(err as Error).message}\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const duration = values.duration === undefined ? Number.POSITIVE_INFINITY : Number(values.duration);
  if (!(duration > 0)) {
    process.stderr.write(`nrec sim: --duration must be a positive number of seconds, got "${values.duration}"\n`);
    return 2;
  }
  const sosAt = values['sos-at'] === 'none' ? undefined : Number(values['sos-at'] ?? (Number.isFinite(duration) ? Math.max(3, duration / 2) : 10));
  const ackAfterMs = Number(values['ack-after']) * 1000;
  const logger = createLogger('sim', { level: process.env.NREC_LOG_LEVEL ?? 'warn' });

  const world = await World.create({ logger, brokerUrl: values.broker, storeDir: values.store, deviceId: values.device, media: !values['no-media'], keepWorkDir: true });
  process.stderr.write(`nrec sim: broker ${values.broker ? world.brokerUrl : `${world.brokerUrl} (embedded)`}, GPS link via ${world.gps.via}, store ${world.storeDir}, agent log ${world.workDir}/agent.log\n`);
  const alarms = new Map<string, string>();
  world.ingest.on('stored', (deviceId: string, stream: string, msg: { alarmId?: string; state?: string }) => {
    if (stream !== 'alarm' || msg.alarmId === undefined) return;
    const before = alarms.get(msg.alarmId);
    alarms.set(msg.alarmId, msg.state ?? '?');
    if (before === undefined && msg.state === 'raised') {
      // The operator at the platform answers the SOS.
      setTimeout(() => void world.ingest.sendCommand(deviceId, 'alarm.ack', { alarmId: msg.alarmId }).catch(() => undefined), ackAfterMs);
    }
  });

  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  const status = () => {
    const s = world.ingest.stats;
    const line = `[sim ${Math.round((Date.now() - started) / 1000)}s] gps sent ${world.feed.sent.length} | locations ${s.accepted.location ?? 0} | alarms ${alarms.size} ${[...alarms.values()].join(',')} | evidence ${s.accepted.media ?? 0} | events ${s.accepted.event ?? 0} | rejected ${s.rejected}`;
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
  const s = world.ingest.stats;
  const locations = readStream(world.storeDir, world.deviceId, 'location').length;
  const summary = { devices: s.devices, locations, alarms: alarms.size, alarmStates: Object.fromEntries(alarms), evidence: s.accepted.media ?? 0, events: s.accepted.event ?? 0, rejected: s.rejected, store: world.storeDir };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}
