import { EventEmitter } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LinkShaper, type Delivery } from './link-shaper.js';

export interface LinkOptions {
  /** agent→broker cap in kbit/s; undefined = unlimited. */
  upKbps?: number;
  /** broker→agent cap in kbit/s; undefined = unlimited. */
  downKbps?: number;
  /** One-way latency, both directions. */
  latencyMs?: number;
  /** Modem buffer per direction; when full the proxy stops reading (backpressure). Default 2 MiB (cellular bufferbloat). */
  bufferBytes?: number;
}

export interface LinkStats {
  upBytes: number;
  downBytes: number;
  /** Bytes accepted but not yet delivered (in the buffer or inside the latency). */
  upQueued: number;
  downQueued: number;
  connections: number;
}

type Dir = 'up' | 'down';
const DEFAULT_BUFFER = 2 * 1024 * 1024;

/** One agent connection: the accepted socket and the one to the broker (opened only while the link is up). */
interface Conn {
  id: number;
  client: Socket;
  server: Socket | undefined;
  serverConnected: boolean;
  /** Sides whose end-of-stream has been queued, so it is queued once. */
  ended: Record<Dir, boolean>;
  gone: { client: boolean; server: boolean };
}

/**
 * TCP proxy that behaves like a cellular link between agent and broker: per
 * direction one rate cap and one FIFO shared by all connections (bytes of a
 * new connection wait behind bytes of earlier ones, like in a modem), a one-way
 * latency, a bounded buffer with backpressure, and cut/restore.
 * The proxy terminates TCP on both sides, so nothing is ever lost inside it:
 * like TCP retransmission over a dead radio, bytes wait and arrive after restore.
 * Events: 'connection' (id), 'close' (id), 'cut' ({reset}), 'restore'.
 */
export class LinkProxy extends EventEmitter {
  readonly port: number;
  readonly url: string;
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #shapers: Record<Dir, LinkShaper<Conn>>;
  readonly #timers: Record<Dir, { timer: NodeJS.Timeout | undefined; at: number }> = {
    up: { timer: undefined, at: Number.POSITIVE_INFINITY },
    down: { timer: undefined, at: Number.POSITIVE_INFINITY },
  };
  readonly #conns = new Set<Conn>();
  readonly #paused: Record<Dir, boolean> = { up: false, down: false };
  readonly #delivered: Record<Dir, number> = { up: 0, down: 0 };
  #buffer: number;
  #opts: LinkOptions;
  #cut: 'no' | 'silent' | 'reset' = 'no';
  #nextId = 1;

  private constructor(server: Server, port: number, target: { host: string; port: number }, opts: LinkOptions) {
    super();
    this.#server = server;
    this.port = port;
    this.url = `mqtt://127.0.0.1:${port}`;
    this.#target = target;
    this.#opts = { ...opts };
    this.#buffer = LinkProxy.#bufferOf(opts.bufferBytes);
    this.#shapers = {
      up: new LinkShaper<Conn>({ kbps: opts.upKbps, latencyMs: opts.latencyMs }),
      down: new LinkShaper<Conn>({ kbps: opts.downKbps, latencyMs: opts.latencyMs }),
    };
    server.on('connection', (s) => this.#accept(s));
  }

  static #bufferOf(b: number | undefined): number {
    const v = b ?? DEFAULT_BUFFER;
    if (!(v > 0)) throw new Error(`link bufferBytes must be > 0, got ${b}`);
    return v;
  }

  /** Starts listening on 127.0.0.1 (`listenPort` or a free port) and forwarding to `target`. */
  static async start(target: { host: string; port: number }, opts: LinkOptions = {}, listenPort = 0): Promise<LinkProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`link proxy cannot listen on 127.0.0.1:${listenPort}: ${err.message}`, { cause: err })));
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    try {
      if (addr === null || typeof addr === 'string') throw new Error('link proxy: listening socket has no port');
      return new LinkProxy(server, addr.port, target, opts);
    } catch (err) {
      server.close();
      throw err;
    }
  }

  /** Changes rate, latency or buffer size; applies to bytes not yet serialized. */
  setOptions(o: Partial<LinkOptions>): void {
    this.#opts = { ...this.#opts, ...o };
    if ('upKbps' in o) this.#shapers.up.setRate(o.upKbps);
    if ('downKbps' in o) this.#shapers.down.setRate(o.downKbps);
    if ('latencyMs' in o) {
      this.#shapers.up.setLatency(o.latencyMs);
      this.#shapers.down.setLatency(o.latencyMs);
    }
    if ('bufferBytes' in o) this.#buffer = LinkProxy.#bufferOf(o.bufferBytes);
    this.#pump('up');
    this.#pump('down');
  }

  /** Loses the radio: nothing passes, connections stay open and silent. With `reset`, every connection is destroyed and new ones are refused. */
  cut(o: { reset?: boolean } = {}): void {
    const now = performance.now();
    this.#cut = o.reset === true ? 'reset' : 'silent';
    for (const d of ['up', 'down'] as const) {
      this.#shapers[d].hold(true, now);
      this.#clearTimer(d);
    }
    if (o.reset === true) {
      for (const c of [...this.#conns]) this.#destroy(c);
    }
    this.emit('cut', { reset: o.reset === true });
  }

  /** Brings the link back: held bytes flow again, connections accepted meanwhile reach the broker. */
  restore(): void {
    if (this.#cut === 'no') return;
    this.#cut = 'no';
    const now = performance.now();
    for (const c of this.#conns) {
      if (c.server === undefined) this.#connectUpstream(c);
    }
    for (const d of ['up', 'down'] as const) {
      this.#shapers[d].hold(false, now);
      this.#pump(d);
    }
    this.emit('restore');
  }

  /** Bytes delivered and waiting per direction, and open connections. */
  stats(): LinkStats {
    const q = (d: Dir) => this.#shapers[d].queuedBytes + this.#shapers[d].inTransitBytes;
    return { upBytes: this.#delivered.up, downBytes: this.#delivered.down, upQueued: q('up'), downQueued: q('down'), connections: this.#conns.size };
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const c of [...this.#conns]) this.#destroy(c);
    this.#clearTimer('up');
    this.#clearTimer('down');
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#cut === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const conn: Conn = { id: this.#nextId++, client, server: undefined, serverConnected: false, ended: { up: false, down: false }, gone: { client: false, server: false } };
    this.#conns.add(conn);
    client.setNoDelay(true);
    client.on('data', (d: Buffer) => this.#enqueue('up', conn, d));
    client.on('end', () => this.#enqueueEnd('up', conn));
    client.on('error', () => { /* surfaces as 'close'; the other side learns of it through the queued end */ });
    client.on('close', () => {
      conn.gone.client = true;
      this.#enqueueEnd('up', conn);
      this.#settle(conn);
    });
    if (!this.#paused.up) client.resume();
    if (this.#cut === 'no') this.#connectUpstream(conn);
    this.emit('connection', conn.id);
  }

  #connectUpstream(conn: Conn): void {
    const server = connect({ host: this.#target.host, port: this.#target.port, allowHalfOpen: true });
    conn.server = server;
    server.setNoDelay(true);
    server.on('connect', () => { conn.serverConnected = true; });
    server.on('data', (d: Buffer) => this.#enqueue('down', conn, d));
    server.on('end', () => this.#enqueueEnd('down', conn));
    server.on('error', () => { /* surfaces as 'close' */ });
    server.on('close', () => {
      conn.gone.server = true;
      // The broker refused or vanished before the connection was made: the agent sees a reset, as over a real link.
      if (!conn.serverConnected) conn.client.resetAndDestroy();
      else this.#enqueueEnd('down', conn);
      this.#settle(conn);
    });
    if (this.#paused.down) server.pause();
  }

  #enqueue(dir: Dir, conn: Conn, data: Buffer): void {
    this.#shapers[dir].push(conn, data, performance.now());
    if (this.#shapers[dir].queuedBytes >= this.#buffer && !this.#paused[dir]) {
      this.#paused[dir] = true;
      for (const c of this.#conns) this.#source(dir, c)?.pause();
    }
    this.#pump(dir);
  }

  #enqueueEnd(dir: Dir, conn: Conn): void {
    if (conn.ended[dir]) return;
    conn.ended[dir] = true;
    this.#shapers[dir].push(conn, null, performance.now());
    this.#pump(dir);
  }

  #source(dir: Dir, c: Conn): Socket | undefined {
    return dir === 'up' ? c.client : c.server;
  }

  /** Runs the direction's model up to now, writes what arrived and arms the one timer for the next event. */
  #pump(dir: Dir): void {
    const shaper = this.#shapers[dir];
    const now = performance.now();
    const { deliver, nextAt } = shaper.poll(now);
    this.#deliver(dir, deliver);
    if (this.#paused[dir] && shaper.queuedBytes < this.#buffer) {
      this.#paused[dir] = false;
      for (const c of this.#conns) this.#source(dir, c)?.resume();
    }
    const t = this.#timers[dir];
    if (nextAt === undefined) {
      this.#clearTimer(dir);
    } else if (t.timer === undefined || nextAt < t.at) {
      this.#clearTimer(dir);
      t.at = nextAt;
      // Timers have 1 ms resolution; rounding up avoids waking before anything is due.
      t.timer = setTimeout(() => {
        t.timer = undefined;
        t.at = Number.POSITIVE_INFINITY;
        this.#pump(dir);
      }, Math.max(0, Math.ceil(nextAt - now)));
    }
  }

  #clearTimer(dir: Dir): void {
    const t = this.#timers[dir];
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timer = undefined;
    t.at = Number.POSITIVE_INFINITY;
  }

  /** Writes arrived pieces, merging consecutive pieces of one connection into one write. */
  #deliver(dir: Dir, items: Delivery<Conn>[]): void {
    let i = 0;
    while (i < items.length) {
      const conn = items[i].tag;
      const parts: Buffer[] = [];
      let end = false;
      for (; i < items.length && items[i].tag === conn && !end; i++) {
        const d = items[i].data;
        if (d === null) end = true;
        else parts.push(d);
      }
      const dest = dir === 'up' ? conn.server : conn.client;
      const destGone = dir === 'up' ? conn.gone.server : conn.gone.client;
      if (dest === undefined || destGone || dest.destroyed) continue;
      if (parts.length > 0) {
        const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        this.#delivered[dir] += buf.length;
        dest.write(buf);
      }
      if (end) dest.end();
    }
  }

  /** Forgets a connection once both sides are closed. */
  #settle(conn: Conn): void {
    const serverDone = conn.server === undefined ? conn.gone.client : conn.gone.server;
    if (!(conn.gone.client && serverDone)) return;
    if (!this.#conns.delete(conn)) return;
    this.#shapers.up.drop(conn);
    this.#shapers.down.drop(conn);
    this.emit('close', conn.id);
  }

  #destroy(conn: Conn): void {
    this.#shapers.up.drop(conn);
    this.#shapers.down.drop(conn);
    conn.client.resetAndDestroy();
    conn.server?.resetAndDestroy();
    conn.gone = { client: true, server: true };
    if (this.#conns.delete(conn)) this.emit('close', conn.id);
  }
}
