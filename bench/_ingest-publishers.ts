// Child process of bench/ingest-store: a fleet of device clients publishing
// live locations at QoS 1 in parallel, each keeping at most WINDOW messages
// that the platform has not confirmed end to end, as the agent's confirmation
// window does, and sending again what stays unconfirmed for RESEND_MS (the
// agent's confirmation timeout, shortened to the length of a run): a broker
// may drop what it acknowledged (Mosquitto drops beyond its queue limit for
// the ingest's session, 1000 messages by default), and a re-send is how the
// device gets it through. Protocol on stdio: argv[2] = JSON options; prints
// "ready" once every client is connected and subscribed, starts on a "go"
// line on stdin, prints one JSON line of totals when all is confirmed, and exits.
import mqtt from 'mqtt';
import { createInterface } from 'node:readline';
import { ackedIds, deviceTopic, inboundTopic } from '../protocol/index.js';
import { fleet, locationMessages } from './_locations.js';

interface Options { url: string; devices: number; perDevice: number; window: number; resendMs: number }
const o = JSON.parse(process.argv[2] ?? '{}') as Options;

interface Device {
  client: mqtt.MqttClient;
  topic: string;
  messages: string[];
  ids: string[];
  next: number;
  /** Unconfirmed: id → index of the message and when it was last sent. */
  unconfirmed: Map<string, { i: number; at: number }>;
  fullSince: number | undefined;
  fullMs: number;
}

const devices: Device[] = [];
for (const d of fleet(o.devices)) {
  const client = await mqtt.connectAsync(o.url, { clientId: d.deviceId, protocolVersion: 4, reconnectPeriod: 0 });
  const messages = locationMessages(d.deviceId, d.bootId, o.perDevice);
  const dev: Device = { client, topic: deviceTopic(d.deviceId, 'location'), messages, ids: messages.map((m) => (JSON.parse(m) as { id: string }).id), next: 0, unconfirmed: new Map(), fullSince: undefined, fullMs: 0 };
  await client.subscribeAsync(inboundTopic(d.deviceId, 'ack'), { qos: 1 });
  devices.push(dev);
}

let left = o.devices * o.perDevice;
let t0 = 0;
let resends = 0;
const finished = new Promise<void>((resolve) => {
  const pump = (d: Device) => {
    while (d.next < d.messages.length && d.unconfirmed.size < o.window) {
      d.unconfirmed.set(d.ids[d.next], { i: d.next, at: performance.now() });
      d.client.publish(d.topic, d.messages[d.next++], { qos: 1 });
    }
    const full = d.next < d.messages.length;
    if (full && d.fullSince === undefined) d.fullSince = performance.now();
  };
  for (const d of devices) {
    d.client.on('message', (_topic, payload) => {
      for (const id of ackedIds(JSON.parse(payload.toString()) as { acked?: string[]; ranges?: Array<{ prefix: string; first: number; last: number }> })) {
        if (d.unconfirmed.delete(id)) left--;
      }
      if (d.fullSince !== undefined) {
        d.fullMs += performance.now() - d.fullSince;
        d.fullSince = undefined;
      }
      if (left === 0) resolve();
      else pump(d);
    });
  }
  createInterface({ input: process.stdin }).once('line', () => {
    t0 = performance.now();
    for (const d of devices) pump(d);
    setInterval(() => {
      const now = performance.now();
      for (const d of devices) {
        for (const u of d.unconfirmed.values()) {
          if (now - u.at < o.resendMs) continue;
          u.at = now;
          resends++;
          d.client.publish(d.topic, d.messages[u.i], { qos: 1 });
        }
      }
    }, Math.max(50, o.resendMs / 4)).unref();
  });
});
if (process.env.BENCH_DEBUG) setInterval(() => process.stderr.write(`publishers: ${left} unconfirmed; per device ${devices.map((d) => `${d.next}/${d.unconfirmed.size}`).join(' ')}\n`), 2000).unref();
process.stdout.write('ready\n');
await finished;
const elapsed = performance.now() - t0;
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({
  confirmedMs: elapsed,
  // Share of the run each device had messages ready but a full window: waiting for the platform, not publishing.
  windowFullShare: devices.reduce((s, d) => s + d.fullMs, 0) / devices.length / elapsed,
  cpuMs: (cpu.user + cpu.system) / 1000,
  resends,
})}\n`);
for (const d of devices) d.client.end(true);
process.exit(0);
