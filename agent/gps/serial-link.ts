// The GPS receiver's tty, kept open whatever the hardware does. Ways a
// receiver goes away, all handled here:
//  - the next read fails (EIO, ENXIO, EBADF): serialport closes the port with
//    `close(err)`, `err.disconnected === true`;
//  - the tty is hung up (what a USB unplug usually does): read() returns 0,
//    which serialport 13 retries in a loop forever, spinning a libuv thread
//    without any event. Only silence shows, so the watchdog looks at the path
//    after a short silence and closes the port when the node is gone or the
//    path now names another node (a replugged receiver gets a new tty while
//    ours is still held open). The python3 pty helper reproduces this variant
//    now and then, socat's the first (serial-link.test.ts sees both);
//  - the port closes without a disconnect error, or its stream ends.
// Every case ends in 'disconnected' and a reopen with backoff until the
// device is back. Nothing here throws: failures become states.

import { EventEmitter } from 'node:events';
import { access, stat } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import type { Logger } from '../../lib/logger.js';
import { Backoff } from '../../lib/backoff.js';

export type LinkState = 'connecting' | 'connected' | 'no-data' | 'disconnected';

/** An open port as the link uses it: serialport's SerialPort, or a test's stand-in. */
export type OpenedPort = Readable & {
  readonly isOpen: boolean;
  close(callback?: (err?: Error | null) => void): void;
};

/** Opens `path` at `baudRate`; rejects with the reason when it cannot. */
export type PortOpener = (path: string, baudRate: number) => Promise<OpenedPort>;

export interface SerialLinkOptions {
  path: string;
  baudRate: number | 'auto';
  /** Makes the byte → line splitter (bounded line length). */
  splitter: () => Transform;
  /** True for a line that is a valid, checksummed sentence (baud detection and the no-data watchdog count only these). */
  isValidLine: (line: string) => boolean;
  /** No valid sentence for this long → 'no-data' (default 5000). */
  noDataMs?: number;
  /** How long each candidate baud rate gets to yield two valid sentences (default 2500). */
  detectWindowMs?: number;
  /** With baudRate 'auto': no valid sentence for this long → detect the baud rate again (default 3 × noDataMs). */
  redetectAfterMs?: number;
  /** Reopen delay: reconnectMinMs plus exponential backoff with jitter up to reconnectMaxMs (defaults 100, 5000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Opens the port (default: serialport). */
  openPort?: PortOpener;
  /** Monotonic ms clock (default performance.now): a wall clock jumps when NTP first syncs a Pi without RTC. */
  now?: () => number;
  logger: Logger;
}

/** Baud rates tried by 'auto', most common first: 9600 (u-blox, MTK, Quectel), 4800 (NMEA 0183 standard, SiRF), then fast modules. */
export const BAUD_CANDIDATES = [9600, 4800, 38400, 115200] as const;

/** Valid sentences a candidate baud rate must yield to be chosen: one could be luck in garbage, two are not. */
const DETECT_VALID_LINES = 2;

/** Silence after which the watchdog checks the device node (a receiver talks at least once a second). */
const NODE_CHECK_AFTER_MS = 2000;

type CloseError = (Error & { disconnected?: boolean }) | null | undefined;

/** Opens a real serial port with serialport. */
export function openSerialPort(path: string, baudRate: number): Promise<OpenedPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    port.open((err) => (err ? reject(err) : resolve(port)));
  });
}

/**
 * The GPS receiver's tty. Opens it (stable /dev/serial/by-id names work: they
 * are symlinks), detects the baud rate when asked to, and when the device
 * disappears (USB unplug) reopens it with backoff until it returns.
 * Emits 'line' (string) for every line and 'state' (LinkState, detail) on each change.
 */
export class SerialLink extends EventEmitter {
  readonly #o: SerialLinkOptions;
  readonly #open: PortOpener;
  readonly #now: () => number;
  readonly #noDataMs: number;
  readonly #backoff: Backoff;
  #port: OpenedPort | undefined;
  #portNode: string | undefined;
  #closeReason: string | undefined;
  #state: LinkState = 'connecting';
  #started = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #probing = false;
  #lastValidAt = 0;
  #baud: number | undefined;
  #cancelDetect: (() => void) | undefined;
  #connecting: Promise<void> | undefined;

  constructor(o: SerialLinkOptions) {
    super();
    this.#o = o;
    this.#open = o.openPort ?? openSerialPort;
    this.#now = o.now ?? (() => performance.now());
    this.#noDataMs = o.noDataMs ?? 5000;
    this.#backoff = new Backoff(250, o.reconnectMaxMs ?? 5000);
    if (o.baudRate !== 'auto') this.#baud = o.baudRate;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** The baud rate in use (configured or detected); undefined before detection succeeded. */
  get baudRate(): number | undefined {
    return this.#baud;
  }

  /** Opens the port in the background; state changes report how it goes. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#watchdog = setInterval(() => this.#check(), Math.max(10, Math.min(1000, this.#noDataMs / 2)));
    this.#watchdog.unref();
    this.#reconnect();
  }

  /** Closes the port and stops reopening it; no state is emitted after this. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#cancelDetect?.();
    // An open in flight closes its port itself once it sees the stop; wait for that too.
    await this.#connecting;
    const port = this.#port;
    this.#port = undefined;
    if (port) await closePort(port);
  }

  #setState(s: LinkState, detail?: string): void {
    if (s === this.#state) return;
    this.#state = s;
    this.emit('state', s, detail);
  }

  #retry(reason: string): void {
    if (this.#stopped) return;
    this.#setState('disconnected', reason);
    if (this.#timer) return;
    const delay = (this.#o.reconnectMinMs ?? 100) + this.#backoff.next();
    this.#o.logger.debug({ path: this.#o.path, reason, delayMs: delay }, 'gps link reopening');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reconnect();
    }, delay);
  }

  #reconnect(): void {
    // Nothing in #connect should throw; if something does (a splitter factory, a stand-in), it is one more reason to retry, never a crash.
    const attempt = this.#connect().catch((err: unknown) => this.#retry(`gps link failed: ${errorText(err)}`)).finally(() => {
      if (this.#connecting === attempt) this.#connecting = undefined;
    });
    this.#connecting = attempt;
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const path = this.#o.path;
    try {
      await access(path);
    } catch {
      return this.#retry(`${path} is not present`);
    }
    let baud = this.#baud;
    if (baud === undefined) {
      const detected = await this.#detectBaud();
      if (this.#stopped) return;
      if (typeof detected === 'string') return this.#retry(detected);
      baud = detected;
    }
    let port: OpenedPort;
    try {
      port = await this.#open(path, baud);
    } catch (err) {
      return this.#retry(`cannot open ${path} at ${baud} baud: ${errorText(err)}`);
    }
    if (this.#stopped) {
      await closePort(port);
      return;
    }
    let splitter: Transform;
    try {
      splitter = this.#o.splitter();
    } catch (err) {
      await closePort(port);
      return this.#retry(`gps link failed: ${errorText(err)}`);
    }
    this.#attach(port, baud, splitter);
  }

  #attach(port: OpenedPort, baud: number, splitter: Transform): void {
    const path = this.#o.path;
    this.#port = port;
    this.#baud = baud;
    this.#lastValidAt = this.#now();
    void nodeIdentity(path).then((id) => {
      if (this.#port === port) this.#portNode = id;
    });
    port.on('error', (err: Error) => this.#o.logger.warn({ path, err: err.message }, 'gps port error'));
    // The stream ending is not a close: the descriptor would stay open and useless.
    port.once('end', () => this.#closeDeliberately(port, 'end of stream'));
    port.once('close', (err: CloseError) => {
      port.unpipe(splitter);
      splitter.destroy();
      if (this.#port === port) this.#port = undefined;
      const reason = this.#closeReason ?? (err?.disconnected === true ? `device disconnected (${err.message})` : 'port closed');
      this.#closeReason = undefined;
      this.#retry(reason);
    });
    splitter.on('data', (line: string) => {
      if (this.#o.isValidLine(line)) {
        this.#lastValidAt = this.#now();
        // Reset only once data flows: a device that opens and drops at once would otherwise be reopened in a tight loop.
        this.#backoff.reset();
        if (this.#state !== 'connected') this.#setState('connected', `${path} at ${baud} baud`);
      }
      this.emit('line', line);
    });
    splitter.on('error', (err: Error) => this.#o.logger.warn({ path, err: err.message }, 'gps line splitter error'));
    port.pipe(splitter);
    this.#setState('connected', `${path} at ${baud} baud`);
  }

  #closeDeliberately(port: OpenedPort, reason: string): void {
    if (this.#port !== port) return;
    this.#closeReason = reason;
    if (port.isOpen) port.close(() => undefined);
    else {
      // Already closed without telling us (a stand-in, or a race with an error): reopen anyway.
      this.#port = undefined;
      this.#closeReason = undefined;
      this.#retry(reason);
    }
  }

  /** Watchdog: silence → 'no-data'; silence on a node that is gone or replaced → reopen; long silence with 'auto' → detect again. */
  #check(): void {
    const port = this.#port;
    if (port === undefined || this.#stopped) return;
    const silentMs = this.#now() - this.#lastValidAt;
    if (silentMs >= this.#noDataMs) this.#setState('no-data', `no valid NMEA sentence for ${Math.round(silentMs)} ms`);
    if (this.#o.baudRate === 'auto' && silentMs >= (this.#o.redetectAfterMs ?? 3 * this.#noDataMs)) {
      this.#baud = undefined;
      this.#closeDeliberately(port, 'no valid NMEA: detecting the baud rate again');
      return;
    }
    if (silentMs < Math.min(this.#noDataMs, NODE_CHECK_AFTER_MS) || this.#probing) return;
    this.#probing = true;
    void nodeIdentity(this.#o.path).then((id) => {
      this.#probing = false;
      if (this.#port !== port) return;
      if (id === undefined) this.#closeDeliberately(port, `${this.#o.path} is gone`);
      else if (this.#portNode !== undefined && id !== this.#portNode) this.#closeDeliberately(port, `${this.#o.path} now names another device`);
    });
  }

  /** Tries each candidate baud rate; the first that yields two valid sentences within the window wins. Returns the rate or why none did. */
  async #detectBaud(): Promise<number | string> {
    const path = this.#o.path;
    for (const baud of BAUD_CANDIDATES) {
      if (this.#stopped) return 'stopped';
      let port: OpenedPort;
      try {
        port = await this.#open(path, baud);
      } catch (err) {
        return `cannot open ${path} at ${baud} baud: ${errorText(err)}`;
      }
      port.on('error', (err: Error) => this.#o.logger.debug({ path, baud, err: err.message }, 'gps port error during baud detection'));
      let valid: number;
      try {
        valid = await this.#countValid(port, this.#o.detectWindowMs ?? 2500);
      } finally {
        await closePort(port);
      }
      if (valid >= DETECT_VALID_LINES) {
        this.#o.logger.info({ path, baud }, 'gps baud rate detected');
        return baud;
      }
    }
    return `no valid NMEA at ${BAUD_CANDIDATES.join('/')} baud`;
  }

  /** Valid sentences read from `port` until enough arrived, the window passed, the port closed or the link stopped. */
  #countValid(port: OpenedPort, windowMs: number): Promise<number> {
    return new Promise((resolve) => {
      let count = 0;
      let finished = false;
      const splitter = this.#o.splitter();
      const done = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.#cancelDetect = undefined;
        port.off('close', done);
        port.unpipe(splitter);
        splitter.destroy();
        resolve(count);
      };
      const timer = setTimeout(done, windowMs);
      this.#cancelDetect = done;
      port.once('close', done);
      splitter.on('data', (line: string) => {
        if (this.#o.isValidLine(line) && ++count >= DETECT_VALID_LINES) done();
      });
      splitter.on('error', done);
      port.pipe(splitter);
    });
  }
}

/** Closes quietly: the port may already be closing or gone. */
function closePort(port: OpenedPort): Promise<void> {
  if (!port.isOpen) return Promise.resolve();
  return new Promise((resolve) => port.close(() => resolve()));
}

/** Identifies the node a path resolves to now (symlinks followed); undefined when it is gone. */
async function nodeIdentity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}:${s.rdev}`;
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
