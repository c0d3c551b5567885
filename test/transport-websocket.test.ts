// mqtt.url may be ws:// (MQTT over WebSocket, for networks that pass only
// HTTP ports): the agent connects through it and its birth reaches the broker.
// The WebSocket endpoint is a small relay in front of a real Mosquitto (this
// machine's Mosquitto build cannot open a websockets listener).
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess, Cleanup, makeTempDir, Mosquitto } from './support/index.js';

// `ws` comes with mqtt (its WebSocket transport); untyped here.
const { WebSocketServer, createWebSocketStream } = createRequire(import.meta.url)('ws') as {
  WebSocketServer: new (o: { server: ReturnType<typeof createServer>; path: string }) => { on(e: 'connection', f: (ws: unknown) => void): void; close(): void };
  createWebSocketStream: (ws: unknown) => Duplex;
};

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('MQTT over WebSocket', () => {
  it('connects with a ws:// URL and publishes its birth', async () => {
    const broker = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/mqtt' });
    wss.on('connection', (ws) => {
      const stream = createWebSocketStream(ws);
      const tcp = connect(broker.port, '127.0.0.1');
      stream.pipe(tcp).pipe(stream);
      stream.on('error', () => tcp.destroy());
      tcp.on('error', () => stream.destroy());
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    cleanup.add(http, (h) => new Promise<void>((r) => { wss.close(); h.closeAllConnections(); h.close(() => r()); }));
    const port = (http.address() as { port: number }).port;

    const sub = cleanup.add(await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }), (c) => c.endAsync(true));
    const online = new Promise<Record<string, unknown>>((resolve) => sub.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)));
    await sub.subscribeAsync('nrec/v1/rec-ws/status', { qos: 1 });
    const dir = cleanup.add(await makeTempDir('nrec-ws-'), (d) => d.remove());
    const agent = cleanup.add(await AgentProcess.start({ deviceId: 'rec-ws', dataDir: dir.file('data'), gps: { enabled: false }, button: { enabled: false }, mqtt: { url: `ws://127.0.0.1:${port}/mqtt` } }, dir.path), (a) => a.stop());
    expect(await online).toMatchObject({ deviceId: 'rec-ws', state: 'online' });
    await agent.waitForLine(`"url":"ws://127.0.0.1:${port}/mqtt"`);
  });
});
