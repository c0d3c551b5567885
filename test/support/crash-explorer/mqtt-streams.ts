import mqttPacket, { type Packet } from 'mqtt-packet';
import { bytesOf, fdPathOf, type Arg, type Syscall } from './strace-parse.js';

/*
 * What a traced process said and heard on its MQTT connections: the bytes of
 * every read and write on a TCP socket to the broker's port, joined per
 * connection and direction and cut into MQTT packets, each placed at the trace
 * line where its last byte went out or came in. From these the explorer knows
 * exactly what the agent had published and PUBACKed at any crash point.
 */

export interface MqttEvent {
  /** Trace line of the call that carried the packet's last byte. */
  line: number;
  time: number;
  /** The connection, as strace decorates its socket (`TCP:[local->remote]`). */
  conn: string;
  /** The client id of the connection's CONNECT. */
  clientId: string | undefined;
  dir: 'out' | 'in';
  packet: Packet;
}

interface Conn {
  clientId?: string;
  out: ReturnType<typeof mqttPacket.parser>;
  in: ReturnType<typeof mqttPacket.parser>;
  current: { line: number; time: number };
}

const SOCKET_RE = /^TCP(?:v6)?:\[(.+):(\d+)->(.+):(\d+)\]$/;

/** Collects MQTT packets from a stream of system calls. */
export class MqttStreams {
  readonly events: MqttEvent[] = [];
  readonly #conns = new Map<string, Conn>();

  /** `brokerPort`: the port the traced process connects to. */
  constructor(private readonly brokerPort: number) {}

  /** True for the calls this collector needs (a cheap test before parsing a line's data). */
  static wants(name: string): boolean {
    return ['read', 'readv', 'recvfrom', 'recvmsg', 'write', 'writev', 'sendto', 'sendmsg'].includes(name);
  }

  apply(c: Syscall): void {
    if (!MqttStreams.wants(c.name) || c.ret === undefined || c.ret <= 0) return;
    const sock = fdPathOf(c.args[0]);
    const m = sock === undefined ? null : SOCKET_RE.exec(sock);
    if (m === null || Number(m[4]) !== this.brokerPort) return;
    const dir = c.name.startsWith('re') ? 'in' : 'out';
    const data = payloadOf(c).subarray(0, c.ret);
    const conn = this.#conn(sock!);
    conn.current = { line: c.end, time: c.time };
    (dir === 'out' ? conn.out : conn.in).parse(data);
  }

  #conn(key: string): Conn {
    let c = this.#conns.get(key);
    if (c !== undefined) return c;
    const out = mqttPacket.parser({ protocolVersion: 4 });
    const inp = mqttPacket.parser({ protocolVersion: 4 });
    const conn: Conn = { out, in: inp, current: { line: -1, time: 0 } };
    const settings = (p: ReturnType<typeof mqttPacket.parser>) => (p as unknown as { settings: { protocolVersion: number } }).settings;
    out.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connect') {
        conn.clientId = packet.clientId;
        // mqtt-packet does not learn the version from CONNECT; every later packet needs it, both ways.
        settings(out).protocolVersion = packet.protocolVersion ?? 4;
        settings(inp).protocolVersion = packet.protocolVersion ?? 4;
      }
      this.events.push({ ...conn.current, conn: key, clientId: conn.clientId, dir: 'out', packet });
    });
    inp.on('packet', (packet: Packet) => this.events.push({ ...conn.current, conn: key, clientId: conn.clientId, dir: 'in', packet }));
    for (const p of [out, inp]) p.on('error', (err: Error) => { throw new Error(`MQTT stream ${key} does not parse: ${err.message}`); });
    this.#conns.set(key, conn);
    return conn;
  }
}

function iov(a: Arg | undefined): Buffer {
  if (a?.kind !== 'array') return Buffer.alloc(0);
  return Buffer.concat(a.items.map((i) => (i.kind === 'struct' && i.fields.iov_base !== undefined ? bytesOf(i.fields.iov_base) : Buffer.alloc(0))));
}

function payloadOf(c: Syscall): Buffer {
  const a = c.args[1];
  if (c.name === 'writev' || c.name === 'readv') return iov(a);
  if (c.name === 'sendmsg' || c.name === 'recvmsg') return a?.kind === 'struct' ? iov(a.fields.msg_iov) : Buffer.alloc(0);
  return bytesOf(a);
}
