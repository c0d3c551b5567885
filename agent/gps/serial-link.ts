import { EventEmitter } from 'node:events';
import { access } from 'node:fs/promises';
import type { Transform } from 'node:stream';
import { SerialPort } from 'serialport';
import type { Logger } from '../log/logger.js';
import { Backoff } from '../transport/backoff.js';

export type LinkState = 'connecting' | 'connected' | 'no-data' | 'disconnected';

export interface SerialLinkOptions {
  path: string;
  baudRate: number | 'auto';
  /** Makes the byte → line splitter (bounded line length). */
  splitter: () => Transform;
  /** True for a line that is a valid, checksummed sentence (used by baud detection). */
  isValidLine: (line: string) => boolean;
  /** No line for this long → 'no-data'. */
  noDataMs?: number;
  logger: Logger;
}

export const BAUD_CANDIDATES = [9600, 4800, 38400, 115200] as const;

/**
 * The GPS receiver's tty. Opens it (stable /dev/serial/by-id names work: they
 * are symlinks), detects the baud rate when asked to, and when the device
 * disappears (USB unplug) reopens it with backoff until it returns.
 * Emits 'line' (string) and 'state' (LinkState, detail). Never throws.
 */
export class SerialLink extends EventEmitter {
  readonly #o: SerialLinkOptions;
  readonly #backoff = new Backoff(250, 5000);
  #port: SerialPort | undefined;
  #state: LinkState = 'connecting';
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastLineAt = 0;
  #baud: number | undefined;

  constructor(o: SerialLinkOptions) {
    super();
    this.#o = o;
    if (o.baudRate !== 'auto') this.#baud = o.baudRate;
  }

  get state(): LinkState {
    return this.#state;
  }

  get baudRate(): number | undefined {
    return this.#baud;
  }

  #setState(s: LinkState, detail?: string): void {
    if (s === this.#state) return;
    this.#state = s;
    this.emit('state', s, detail);
  }

  start(): void {
    this.#stopped = false;
    void this.#open();
    const noDataMs = this.#o.noDataMs ?? 5000;
    this.#watchdog = setInterval(() => {
      if (this.#state === 'connected' && Date.now() - this.#lastLineAt > noDataMs) this.#setState('no-data', `no sentence for ${noDataMs} ms`);
    }, Math.min(1000, noDataMs));
    this.#watchdog.unref();
  }

  #retry(reason: string): void {
    if (this.#stopped) return;
    this.#setState('disconnected', reason);
    const delay = 100 + this.#backoff.next();
    this.#timer = setTimeout(() => void this.#open(), delay);
  }

  async #open(): Promise<void> {
    if (this.#stopped) return;
    try {
      await access(this.#o.path);
    } catch {
      return this.#retry(`${this.#o.path} is not present`);
    }
    const baud = this.#baud ?? (await this.#detectBaud());
    if (baud === undefined) return this.#retry('no baud rate gave valid NMEA');
    let port: SerialPort;
    try {
      port = await openPort(this.#o.path, baud);
    } catch (err) {
      return this.#retry(`cannot open ${this.#o.path}: ${(err as Error).message}`);
    }
    if (this.#stopped) {
      port.close();
      return;
    }
    this.#port = port;
    this.#baud = baud;
    this.#backoff.reset();
    this.#lastLineAt = Date.now();
    const splitter = this.#o.splitter();
    port.pipe(splitter);
    splitter.on('data', (line: string) => {
      this.#lastLineAt = Date.now();
      if (this.#state !== 'connected') this.#setState('connected');
      this.emit('line', line);
    });
    port.on('error', (err) => this.#o.logger.warn({ path: this.#o.path, err: err.message }, 'gps port error'));
    port.once('close', (err?: Error & { disconnected?: boolean }) => {
      port.unpipe(splitter);
      this.#port = undefined;
      this.#retry(err?.disconnected === true ? 'device disconnected' : 'port closed');
    });
    this.#setState('connected', `${this.#o.path} at ${baud} baud`);
  }

  /** Tries each candidate baud for a couple of seconds; the first that yields two valid sentences wins. */
  async #detectBaud(): Promise<number | undefined> {
    for (const baud of BAUD_CANDIDATES) {
      let port: SerialPort;
      try {
        port = await openPort(this.#o.path, baud);
      } catch {
        return undefined;
      }
      const valid = await new Promise<number>((resolve) => {
        let count = 0;
        const splitter = this.#o.splitter();
        port.pipe(splitter);
        const done = () => {
          clearTimeout(t);
          port.unpipe(splitter);
          resolve(count);
        };
        splitter.on('data', (line: string) => {
          if (this.#o.isValidLine(line) && ++count >= 2) done();
        });
        const t = setTimeout(done, 2500);
      });
      await new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r()));
      if (valid >= 2) {
        this.#o.logger.info({ path: this.#o.path, baud }, 'gps baud rate detected');
        return baud;
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    const port = this.#port;
    this.#port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }
}

function openPort(path: string, baudRate: number): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    port.open((err) => (err ? reject(err) : resolve(port)));
  });
}
