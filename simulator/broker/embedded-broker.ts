import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { parseTopic } from '../../protocol/index.js';

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * An in-process MQTT 3.1.1 broker (aedes) for `nrec sim` and laptops without
 * Mosquitto. It enforces the same rule the production ACL does: a device
 * (client id = deviceId) publishes only under nrec/v1/<its id>/ and never
 * into a cmd/ subtree; the ingest (client id nrec-ingest-*) may write commands.
 */
export async function startEmbeddedBroker(port = 0, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  aedes.authorizePublish = (client, packet, callback) => {
    const id = client?.id ?? '';
    const t = parseTopic(packet.topic);
    if (id.startsWith('nrec-ingest-') || id.startsWith('nrec-platform-')) return callback(null);
    // A device has two connections: control (client id = deviceId) and bulk (deviceId-bulk).
    if (t.ok && t.direction === 'device' && (t.deviceId === id || `${t.deviceId}-bulk` === id)) return callback(null);
    callback(new Error(`client ${id} may not publish to ${packet.topic}`));
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr !== null ? addr.port : port;
  return {
    url: `mqtt://${host}:${actual}`,
    port: actual,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
