// The serial link against a stand-in port (baud detection, every way a port
// can go away, the watchdog) and against real ptys (what serialport really
// does when the device disappears under it).
import { once } from 'node:events';
import { rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { createPtyPair, type PtyPair } from '../../simulator/serial/pty-pair.js';
import { makeTempDir, type TempDir } from '../../test/support/temp.js';
import { LineSplitter } from './line-splitter.js';
import { parseSentence } from './nmea-parser.js';
import { BAUD_CANDIDATES, SerialLink, type LinkState, type SerialLinkOptions } from './serial-link.js';

const logger = createLogger('test', { level: 'silent', pretty: false });
const VALID = '$GNRMC,123519.00,A,4807.03800,N,01131.00000,E,0.022,,230394,,,A,V*';
const validLine = () => `${VALID.slice(0, -1)}*${checksum(VALID.slice(1, -1))}\r\n`;
const badChecksumLine = `${VALID}00\r\n`;

function checksum(body: string): string {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x.toString(16).toUpperCase().padStart(2, '0');
}

/** A stand-in for an open serial port: the test pushes bytes and decides how it goes away. */
class FakePort extends Readable {
  isOpen = true;
  constructor(readonly baud: number) {
    super();
  }
  override _read(): void {}
  close(callback?: (err?: Error | null) => void): void {
    this.isOpen = false;
    setImmediate(() => {
      this.emit('close', null);
      callback?.(null);
    });
  }
  /** What serialport does when a read fails with EIO/ENXIO: close with a disconnect error. */
  unplug(): void {
    this.isOpen = false;
    this.emit('close', Object.assign(new Error('Input/output error'), { disconnected: true }));
  }
}

/** A receiver that talks at `speaksAt` (garbage at any other rate), and a record of every open. */
class FakeDevice {
  readonly ports: FakePort[] = [];
  speaksAt: number;
  silent = false;
  failOpen: string | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(speaksAt: number) {
    this.speaksAt = speaksAt;
    this.#timer = setInterval(() => {
      if (this.silent) return;
      for (const p of this.ports) if (p.isOpen) p.push(p.baud === this.speaksAt ? validLine() : '\x8f\x03~\xfa\x11garbage\x80\r\n');
    }, 10);
  }

  readonly open = async (_path: string, baud: number): Promise<FakePort> => {
    if (this.failOpen !== undefined) throw new Error(this.failOpen);
    const p = new FakePort(baud);
    p.on('error', () => undefined);
    this.ports.push(p);
    return p;
  };

  get openBauds(): number[] {
    return this.ports.map((p) => p.baud);
  }

  get current(): FakePort | undefined {
    return this.ports.filter((p) => p.isOpen).at(-1);
  }

  dispose(): void {
    clearInterval(this.#timer);
  }
}

const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (disposers.length > 0) await disposers.pop()!();
});

async function tempDir(): Promise<TempDir> {
  const dir = await makeTempDir('nrec-serial-link-');
  disposers.push(() => dir.remove());
  return dir;
}

function makeLink(o: Partial<SerialLinkOptions> & Pick<SerialLinkOptions, 'path'>): { link: SerialLink; states: Array<[LinkState, string | undefined]>; lines: string[] } {
  const link = new SerialLink({
    baudRate: 9600,
    splitter: () => new LineSplitter(),
    isValidLine: (l) => parseSentence(l).ok,
    logger,
    detectWindowMs: 150,
    noDataMs: 200,
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
    ...o,
  });
  const states: Array<[LinkState, string | undefined]> = [];
  const lines: string[] = [];
  link.on('state', (s: LinkState, d?: string) => states.push([s, d]));
  link.on('line', (l: string) => lines.push(l));
  disposers.push(() => link.stop());
  return { link, states, lines };
}

/** Resolves with the detail of the next transition into `want`; call it before causing the transition. */
async function reach(link: SerialLink, want: LinkState, timeoutMs = 10_000): Promise<string | undefined> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), timeoutMs);
  try {
    for (;;) {
      const [s, detail] = (await once(link, 'state', { signal: ac.signal })) as [LinkState, string | undefined];
      if (s === want) return detail;
    }
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`link did not reach '${want}' within ${timeoutMs} ms (state ${link.state})`);
    throw err;
  } finally {
    clearTimeout(t);
  }
}

/** Resolves when the link has emitted `n` more valid lines. */
async function validLines(link: SerialLink, n: number): Promise<void> {
  let seen = 0;
  await new Promise<void>((resolve) => {
    const on = (l: string) => {
      if (parseSentence(l).ok && ++seen >= n) {
        link.off('line', on);
        resolve();
      }
    };
    link.on('line', on);
  });
}

async function deviceFile(): Promise<string> {
  const dir = await tempDir();
  const path = dir.file('ttyGPS');
  await writeFile(path, '');
  return path;
}

function fakeDevice(speaksAt: number): FakeDevice {
  const d = new FakeDevice(speaksAt);
  disposers.push(() => d.dispose());
  return d;
}

describe('baud rate detection (stand-in port: a pty ignores the baud rate, so only a stand-in can speak at one rate)', () => {
  it.each([4800, 38400, 115200])('finds a receiver that speaks only at %i', async (rate) => {
    const device = fakeDevice(rate);
    const { link } = makeLink({ path: await deviceFile(), baudRate: 'auto', openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    expect(await connected).toContain(`at ${rate} baud`);
    expect(link.baudRate).toBe(rate);
    const tried = BAUD_CANDIDATES.slice(0, BAUD_CANDIDATES.indexOf(rate as (typeof BAUD_CANDIDATES)[number]) + 1);
    // every candidate up to the right one was tried once, then the port was opened for use at that rate
    expect(device.openBauds).toEqual([...tried, rate]);
    expect(device.ports.filter((p) => p.isOpen)).toHaveLength(1);
    await validLines(link, 3);
  });

  it('says so and keeps trying when no rate gives valid NMEA (wrong checksums count as garbage)', async () => {
    const device = fakeDevice(-1);
    const { link } = makeLink({ path: await deviceFile(), baudRate: 'auto', openPort: device.open });
    const down = reach(link, 'disconnected');
    link.start();
    expect(await down).toBe('no valid NMEA at 9600/4800/38400/115200 baud');
    // The receiver comes to its senses (e.g. finished booting at 4800): the next round finds it.
    device.speaksAt = 4800;
    await reach(link, 'connected');
    expect(link.baudRate).toBe(4800);
    expect(device.ports.filter((p) => p.isOpen)).toHaveLength(1);
  });

  it('uses a configured rate without probing', async () => {
    const device = fakeDevice(38400);
    const { link } = makeLink({ path: await deviceFile(), baudRate: 38400, openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    await validLines(link, 2);
    expect(device.openBauds).toEqual([38400]);
  });

  it('detects again after long silence with auto (a receiver swapped for one at another rate)', async () => {
    const device = fakeDevice(9600);
    const { link } = makeLink({ path: await deviceFile(), baudRate: 'auto', openPort: device.open, redetectAfterMs: 400 });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    device.speaksAt = 115200;
    expect(await reach(link, 'no-data')).toMatch(/^no valid NMEA sentence for \d+ ms$/);
    expect(await reach(link, 'disconnected')).toBe('no valid NMEA: detecting the baud rate again');
    await reach(link, 'connected');
    expect(link.baudRate).toBe(115200);
  });
});

describe('reopening when the device goes away (stand-in port)', () => {
  it('reopens after a disconnect and lines resume', async () => {
    const device = fakeDevice(9600);
    const { link } = makeLink({ path: await deviceFile(), openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    await validLines(link, 1);
    const down = reach(link, 'disconnected');
    device.current!.unplug();
    expect(await down).toBe('device disconnected (Input/output error)');
    await reach(link, 'connected');
    await validLines(link, 2);
    expect(device.ports).toHaveLength(2);
  });

  it('waits while the path is absent and opens it when it appears', async () => {
    const device = fakeDevice(9600);
    const path = await deviceFile();
    await rm(path);
    const { link } = makeLink({ path, openPort: device.open });
    const down = reach(link, 'disconnected');
    link.start();
    expect(await down).toBe(`${path} is not present`);
    expect(device.ports).toHaveLength(0);
    const up = reach(link, 'connected');
    await writeFile(path, '');
    await up;
    await validLines(link, 1);
  });

  it('reports an open failure with its reason and retries', async () => {
    const device = fakeDevice(9600);
    device.failOpen = 'Permission denied, cannot open /dev/ttyACM0';
    const { link } = makeLink({ path: await deviceFile(), openPort: device.open });
    const down = reach(link, 'disconnected');
    link.start();
    expect(await down).toMatch(/^cannot open .* at 9600 baud: Permission denied/);
    device.failOpen = undefined;
    await reach(link, 'connected');
  });

  it('reopens when the port closes without a disconnect error, and when its stream ends', async () => {
    const device = fakeDevice(9600);
    const { link } = makeLink({ path: await deviceFile(), openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    let down = reach(link, 'disconnected');
    device.current!.close();
    expect(await down).toBe('port closed');
    await reach(link, 'connected');
    down = reach(link, 'disconnected');
    device.current!.push(null);
    expect(await down).toBe('end of stream');
    await reach(link, 'connected');
    await validLines(link, 1);
  });

  it('turns an unexpected throw while opening into a retry, not a crash', async () => {
    const device = fakeDevice(9600);
    let calls = 0;
    const splitter = () => {
      if (++calls === 1) throw new Error('splitter exploded');
      return new LineSplitter();
    };
    const { link } = makeLink({ path: await deviceFile(), openPort: device.open, splitter });
    const down = reach(link, 'disconnected');
    link.start();
    expect(await down).toBe('gps link failed: splitter exploded');
    await reach(link, 'connected');
    await validLines(link, 1);
    expect(device.ports.filter((p) => p.isOpen)).toHaveLength(1);
  });

  it('survives an error event on the port', async () => {
    const device = fakeDevice(9600);
    const { link } = makeLink({ path: await deviceFile(), openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    device.current!.emit('error', new Error('EIO on write'));
    await validLines(link, 2);
    expect(link.state).toBe('connected');
  });

  it('reopens a silent port whose device node is gone (no error ever arrives)', async () => {
    const device = fakeDevice(9600);
    const path = await deviceFile();
    const { link } = makeLink({ path, openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    device.silent = true;
    await rm(path);
    expect(await reach(link, 'no-data')).toMatch(/^no valid NMEA sentence/);
    expect(await reach(link, 'disconnected')).toBe(`${path} is gone`);
    device.silent = false;
    const up = reach(link, 'connected');
    await writeFile(path, '');
    await up;
    await validLines(link, 1);
  });

  it('reopens a silent port whose path now names another node (replugged receiver, new tty, same by-id name)', async () => {
    const device = fakeDevice(9600);
    const path = await deviceFile();
    const { link } = makeLink({ path, openPort: device.open, noDataMs: 10_000 });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    await validLines(link, 1);
    device.silent = true;
    await writeFile(`${path}.new`, '');
    await rename(`${path}.new`, path);
    const down = reach(link, 'disconnected');
    // No 'no-data' first: the node check starts after 2 s of silence, well before noDataMs.
    expect(await down).toBe(`${path} now names another device`);
    const up = reach(link, 'connected');
    device.silent = false;
    await up;
    expect(device.ports).toHaveLength(2);
  });
});

describe('no-data watchdog (stand-in port)', () => {
  it('reports silence and garbage as no-data, and valid sentences as connected again', async () => {
    const device = fakeDevice(9600);
    const { link, lines } = makeLink({ path: await deviceFile(), openPort: device.open });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    device.silent = true;
    await reach(link, 'no-data');
    device.silent = false;
    await reach(link, 'connected');
    // Garbage and wrong checksums keep arriving as lines, but they are not data.
    device.speaksAt = -1;
    const before = lines.length;
    await reach(link, 'no-data');
    expect(lines.length).toBeGreaterThan(before);
    device.current!.push(badChecksumLine);
    device.speaksAt = 9600;
    await reach(link, 'connected');
    expect(link.state).toBe('connected');
  });

  it('emits nothing after stop, even mid-detection, and leaves no port open', async () => {
    const device = fakeDevice(-1);
    const { link, states } = makeLink({ path: await deviceFile(), baudRate: 'auto', openPort: device.open, detectWindowMs: 5000 });
    link.start();
    await new Promise<void>((resolve) => {
      const t = setInterval(() => device.ports.length > 0 && (clearInterval(t), resolve()), 5);
    });
    await link.stop();
    const count = states.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(states.length).toBe(count);
    expect(device.ports.every((p) => !p.isOpen)).toBe(true);
  });
});

describe('real ptys: the device disappears while open', () => {
  for (const via of ['socat', 'python3'] as const) {
    it(`${via}: close with a disconnect error, then reopen through a symlink when the pty returns`, async () => {
      const dir = await tempDir();
      const target = dir.file('gps-pty');
      // Like /dev/serial/by-id/usb-u-blox_...-if00 → ../../ttyACM0 (the pty helpers make a symlink too).
      const byId = dir.file('usb-u-blox_GNSS_receiver-if00');
      await symlink(target, byId);
      let pair: PtyPair = await createPtyPair(target, via);
      disposers.push(() => pair.close());
      const { link } = makeLink({ path: byId, noDataMs: 5000 });
      const connected = reach(link, 'connected');
      link.start();
      await connected;
      const feed = setInterval(() => pair.writer.write(validLine()), 20);
      disposers.push(() => clearInterval(feed));
      await validLines(link, 2);

      // Either a failed read (close with a disconnect error) or a hung-up tty (reads return 0, silence, node gone).
      const down = reach(link, 'disconnected');
      await pair.close();
      expect(await down).toMatch(new RegExp(`^device disconnected|^${byId} is gone$`));

      const up = reach(link, 'connected');
      pair = await createPtyPair(target, via);
      await up;
      await validLines(link, 2);
    });
  }

  it('socat: the symlink removed while the pty stays (descriptor silent, no error) is noticed by the watchdog', async () => {
    const dir = await tempDir();
    const path = dir.file('gps-pty');
    const pair = await createPtyPair(path, 'socat');
    disposers.push(() => pair.close());
    const { link } = makeLink({ path, noDataMs: 200 });
    const connected = reach(link, 'connected');
    link.start();
    await connected;
    await rm(path);
    expect(await reach(link, 'disconnected')).toBe(`${path} is gone`);
  });
});
