import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../lib/logger.js';
import { Ingest, type IngestOptions } from '../platform/ingest/index.js';
import { AgentProcess } from './agent-process.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded-broker.js';
import { setPassword } from './broker/password-file.js';
import { SysfsGpioTree } from './gpio/sysfs-tree.js';
import { createGpiodToolsStandIn, type GpiodLineController } from './gpio/gpiod-tools.js';
import { GpsFeed } from './gps/gps-feed.js';
import { createPtyPair, type PtyPair } from './serial/pty-pair.js';

/** A broker login. */
export interface BrokerLogin {
  username: string;
  password: string;
}

/** The platform's username on the embedded broker: not a valid deviceId, so no device can ever have it. */
export const PLATFORM_USER = 'ingest.nrec';

export interface WorldOptions {
  logger: Logger;
  /** External broker URL; default: an embedded aedes broker on a free port, with a login provisioned for the device and the platform. */
  brokerUrl?: string;
  /**
   * How the ingest connects, when not like the agent (an external broker's platform listener, TLS, its
   * credentials); false: no in-process ingest (a test runs `nrec ingest` processes itself).
   */
  ingest?: false | Pick<IngestOptions, 'brokerUrl' | 'username' | 'password' | 'ca' | 'cert' | 'key' | 'protocolVersion'>;
  /** Ingest store directory (evidence, keys, and the SQLite store unless `db`); default: a fresh temp directory. */
  storeDir?: string;
  /** The ingest's database (sqlite path or postgres:// URL); default SQLite in the store directory. */
  db?: string;
  deviceId?: string;
  /** Work directory for the agent's data, config and the stand-in devices. */
  workDir?: string;
  /** Agent config overrides (deep-merged per top-level section). */
  agentConfig?: Record<string, Record<string, unknown> | string | number | boolean>;
  gpsIntervalMs?: number;
  /** Walking speed of the simulated nurse (default 1.4 m/s). */
  gpsSpeedMps?: number;
  /** Start the GPS feed automatically (default true). */
  autoFeed?: boolean;
  /** Which GPIO stand-in the agent's button backend talks to (default sysfs). */
  buttonBackend?: 'sysfs' | 'gpiod-v1' | 'gpiod-v2';
  /** Record evidence with the simulator's camera (lavfi test picture and tone). */
  media?: boolean;
  /** Keep the auto-created work dir (and the store in it) after close(); `nrec sim` prints its path. Default false: tests leave nothing behind. */
  keepWorkDir?: boolean;
  /** Where the agent's log lines go (default: <workDir>/agent.log). */
  agentLog?: string;
}

/**
 * Everything around the agent: broker, ingest, a GPS on a pty, a GPIO button
 * in a sysfs-shaped tree, and the agent itself as a child process. The agent
 * reaches these only through what the OS would show it (a tty path, a GPIO
 * directory, a broker address).
 */
export class World {
  readonly workDir: string;
  readonly storeDir: string;
  readonly brokerUrl: string;
  readonly deviceId: string;
  #ingest: Ingest | undefined;
  readonly #ingestConnection: Partial<IngestOptions>;
  readonly #db: string | undefined;
  readonly #logger: Logger;
  readonly gps: PtyPair;
  readonly feed: GpsFeed;
  readonly gpio: SysfsGpioTree;
  /** The libgpiod tools stand-in, when the button backend is gpiod. */
  readonly gpiod: GpiodLineController | undefined;
  agent!: AgentProcess;
  readonly #broker: EmbeddedBroker | undefined;
  /** The embedded broker's password file (undefined with an external broker). */
  readonly #passwordFile: string | undefined;
  /** The platform's login on the embedded broker. */
  readonly platformLogin: BrokerLogin | undefined;
  readonly agentConfig: Record<string, unknown>;
  #removeWorkDir = false;

  private constructor(init: {
    workDir: string; storeDir: string; brokerUrl: string; deviceId: string; ingest: Ingest | undefined; db: string | undefined; logger: Logger; gps: PtyPair; feed: GpsFeed; gpio: SysfsGpioTree; gpiod?: GpiodLineController; broker?: EmbeddedBroker;
    passwordFile?: string; platformLogin?: BrokerLogin; ingestConnection?: Partial<IngestOptions>; agentConfig: Record<string, unknown>;
  }) {
    this.#passwordFile = init.passwordFile;
    this.platformLogin = init.platformLogin;
    this.gpiod = init.gpiod;
    this.workDir = init.workDir;
    this.storeDir = init.storeDir;
    this.brokerUrl = init.brokerUrl;
    this.deviceId = init.deviceId;
    this.#ingest = init.ingest;
    this.#ingestConnection = init.ingestConnection ?? {};
    this.#db = init.db;
    this.#logger = init.logger;
    this.gps = init.gps;
    this.feed = init.feed;
    this.gpio = init.gpio;
    this.#broker = init.broker;
    this.agentConfig = init.agentConfig;
  }

  static async create(o: WorldOptions): Promise<World> {
    const workDir = o.workDir ?? (await mkdtemp(join(tmpdir(), 'nrec-sim-')));
    await mkdir(workDir, { recursive: true });
    const storeDir = o.storeDir ?? join(workDir, 'store');
    const deviceId = o.deviceId ?? 'sim-001';
    const dataDir = join(workDir, 'agent-data');
    let broker: EmbeddedBroker | undefined;
    let passwordFile: string | undefined;
    let platformLogin: BrokerLogin | undefined;
    let deviceLogin: Record<string, string> = {};
    if (o.brokerUrl === undefined) {
      passwordFile = join(workDir, 'broker', 'passwd');
      await mkdir(join(workDir, 'broker'), { recursive: true, mode: 0o700 });
      platformLogin = await provisionLogin(passwordFile, PLATFORM_USER, join(workDir, 'platform', 'mqtt-password'));
      const device = await provisionLogin(passwordFile, deviceId, join(dataDir, 'keys', 'mqtt-password'));
      deviceLogin = { username: device.username, passwordFile: join(dataDir, 'keys', 'mqtt-password') };
      broker = await startEmbeddedBroker({ passwordFile, platformUsers: [PLATFORM_USER], logger: o.logger });
    }
    const brokerUrl = o.brokerUrl ?? broker!.url;
    await mkdir(storeDir, { recursive: true });
    const ingestConnection: Partial<IngestOptions> = { username: platformLogin?.username, password: platformLogin?.password, ...(o.ingest === false ? {} : o.ingest) };
    let ingest: Ingest | undefined;
    if (o.ingest !== false) {
      ingest = await Ingest.open({ brokerUrl, storeDir, db: o.db, logger: o.logger, ...ingestConnection });
      await ingest.start();
    }
    const gps = await createPtyPair(join(workDir, 'gps-tty'));
    const feed = new GpsFeed(gps.writer, { intervalMs: o.gpsIntervalMs ?? 1000, speedMps: o.gpsSpeedMps });
    const gpio = new SysfsGpioTree({ root: join(workDir, 'sys-class-gpio') });
    gpio.on('error', (err: Error) => o.logger.warn({ err: err.message }, 'sysfs GPIO stand-in'));
    const backend = o.buttonBackend ?? 'sysfs';
    const gpiod = backend === 'sysfs' ? undefined : await createGpiodToolsStandIn({ version: backend === 'gpiod-v1' ? 1 : 2, dir: join(workDir, 'gpiod') });
    const buttonBase = gpiod === undefined
      ? { backend: 'sysfs', sysfsRoot: gpio.root, chip: 'gpiochip0', line: 17, resendS: 5 }
      : { backend: 'gpiod', toolsDir: gpiod.toolsDir, chip: gpiod.chip, line: 'GPIO17', resendS: 5 };
    const over = o.agentConfig ?? {};
    await provisionDeviceKey(deviceId, join(dataDir, 'keys'), join(storeDir, 'keys'));
    const section = (name: string, base: Record<string, unknown>) => ({ ...base, ...((over[name] as Record<string, unknown> | undefined) ?? {}) });
    const agentConfig: Record<string, unknown> = {
      ...over,
      deviceId,
      dataDir,
      mqtt: section('mqtt', { url: brokerUrl, backoffMinMs: 200, backoffMaxMs: 2000, ...deviceLogin }),
      gps: section('gps', { path: gps.devicePath, baudRate: 9600, intervalS: 5, displacementM: 5 }),
      button: section('button', buttonBase),
      transport: section('transport', {}),
      health: section('health', {}),
      media: section('media', o.media === true ? { enabled: true, profile: 'sim', width: 320, height: 240, fps: 10, videoKbps: 300, chunkS: 4, bufferS: 8, postEventS: 12 } : { enabled: false }),
    };
    const world = new World({ workDir, storeDir, brokerUrl, deviceId, ingest, db: o.db, logger: o.logger, gps, feed, gpio, gpiod, broker, passwordFile, platformLogin, ingestConnection, agentConfig });
    world.#removeWorkDir = o.workDir === undefined && o.keepWorkDir !== true;
    world.agent = await AgentProcess.start(agentConfig, workDir, o.agentLog ?? join(workDir, 'agent.log'));
    if (o.autoFeed !== false) feed.start();
    return world;
  }

  /** The in-process ingest (throws when the world runs without one, or it is stopped). */
  get ingest(): Ingest {
    if (this.#ingest === undefined) throw new Error('this world has no ingest running');
    return this.#ingest;
  }

  /** Stops the in-process ingest (the platform is away; the broker queues for its session). */
  async stopIngest(): Promise<void> {
    const i = this.#ingest;
    this.#ingest = undefined;
    await i?.stop();
  }

  /**
   * Starts a new in-process ingest on the same store and session (after stopIngest). `beforeStart`
   * sees it before it connects: what the broker kept for it is stored as soon as it does.
   */
  async startIngest(beforeStart?: (ingest: Ingest) => void): Promise<Ingest> {
    if (this.#ingest !== undefined) throw new Error('the ingest is running');
    const ingest = await Ingest.open({ brokerUrl: this.brokerUrl, storeDir: this.storeDir, db: this.#db, logger: this.#logger, ...this.#ingestConnection });
    this.#ingest = ingest;
    beforeStart?.(ingest);
    await ingest.start();
    return ingest;
  }

  /**
   * Provisions another device's login on the embedded broker (a second device,
   * or an impostor with a valid login of its own); its password file goes to
   * <workDir>/devices/<deviceId>/mqtt-password.
   */
  async provisionDeviceLogin(deviceId: string): Promise<BrokerLogin> {
    if (this.#passwordFile === undefined) throw new Error('provisionDeviceLogin: this world uses an external broker; provision its users there');
    return provisionLogin(this.#passwordFile, deviceId, join(this.workDir, 'devices', deviceId, 'mqtt-password'));
  }

  /** Holds the alarm button long enough for an SOS. */
  async pressSos(holdMs = 2000): Promise<void> {
    await (this.gpiod ?? this.gpio).hold(holdMs);
  }

  /** Stops everything in reverse order; the agent gets SIGTERM (graceful). */
  async close(): Promise<void> {
    this.feed.stop();
    await this.agent.stop();
    await this.gps.close();
    this.gpio.close();
    await this.gpiod?.close();
    await this.stopIngest();
    await this.#broker?.close();
    if (this.#removeWorkDir) await rm(this.workDir, { recursive: true, force: true });
  }
}

/**
 * A broker login, as provisioning would make it: a random password in a file
 * of its own (mode 0600, in a 0700 directory) for the client, and its hash in
 * the broker's password file. An existing password file is kept, so a world
 * re-created on the same work dir keeps its logins.
 */
async function provisionLogin(brokerPasswordFile: string, username: string, secretFile: string): Promise<BrokerLogin> {
  await mkdir(dirname(secretFile), { recursive: true, mode: 0o700 });
  let password = randomBytes(32).toString('base64url');
  await writeFile(secretFile, `${password}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
    password = (await readFile(secretFile, 'utf8')).trim();
  });
  await setPassword(brokerPasswordFile, username, password);
  return { username, password };
}

/**
 * Provisioning, as the factory would do it: the device gets an Ed25519 key
 * (private key mode 0600 in its data dir) and the platform registers the
 * public key (<store>/keys/<deviceId>.pem), which the ingest verifies against.
 */
async function provisionDeviceKey(deviceId: string, deviceKeyDir: string, platformKeyDir: string): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await mkdir(deviceKeyDir, { recursive: true, mode: 0o700 });
  await mkdir(platformKeyDir, { recursive: true });
  await writeFile(join(deviceKeyDir, 'device-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const existingPub = await readFile(join(deviceKeyDir, 'device-key.pub.pem'), 'utf8').catch(() => undefined);
  const registered = existingPub ?? pub;
  if (existingPub === undefined) await writeFile(join(deviceKeyDir, 'device-key.pub.pem'), pub);
  await writeFile(join(platformKeyDir, `${deviceId}.pem`), registered);
}
