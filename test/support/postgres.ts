import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { freePort } from './ports.js';
import { alive, descendants } from './process-tree.js';
import { makeTempDir, type TempDir } from './temp.js';

const INSTALL = 'apt-get update && apt-get install -y postgresql (or run .ci/run)';
const READY = 'database system is ready to accept connections';

/** initdb's directory: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (the newest installed). */
export function postgresBinDir(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim() !== '') return join(onPath.stdout.trim(), '..');
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error(`PostgreSQL is not installed (no initdb on PATH or in ${root}/<version>/bin); install it with: ${INSTALL}`);
  return join(root, versions[0], 'bin');
}

/** Who the cluster runs as: PostgreSQL refuses root, so as root the "postgres" system user. */
function clusterUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const u = id('-u');
  const g = id('-g');
  if (u.status !== 0 || g.status !== 0) throw new Error(`the "postgres" system user does not exist (PostgreSQL will not run as root); install the server package, which creates it: ${INSTALL}`);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * A real PostgreSQL cluster owned by one test file: initdb in a temp dir
 * (owned by the postgres user when the tests run as root), a free TCP port on
 * 127.0.0.1, its unix socket in the temp dir, the server's defaults
 * otherwise. The postmaster is our child process (spawned with the postgres
 * uid rather than through runuser, so kill9() hits the postmaster itself).
 */
export class PostgresCluster {
  readonly port: number;
  readonly dir: TempDir;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly #bin: string;
  readonly #user: { uid: number; gid: number } | undefined;
  #child: ChildProcess | undefined;
  #log: string[] = [];
  #dbs = 0;

  private constructor(port: number, dir: TempDir, bin: string, user: { uid: number; gid: number } | undefined) {
    this.port = port;
    this.dir = dir;
    this.dataDir = dir.file('data');
    this.socketDir = dir.file('sock');
    this.#bin = bin;
    this.#user = user;
  }

  /** initdb, start, and resolve once the server accepts connections. */
  static async start(): Promise<PostgresCluster> {
    const bin = postgresBinDir();
    const user = clusterUser();
    const dir = await makeTempDir('nrec-pg-');
    const c = new PostgresCluster(await freePort(), dir, bin, user);
    try {
      if (user !== undefined) chownSync(dir.path, user.uid, user.gid);
      await c.#run('initdb', ['-D', c.dataDir, '-U', 'postgres', '--encoding=UTF8', '--no-locale', '--no-sync']);
      await c.#run('sh', ['-c', `mkdir -m 700 "${c.socketDir}"`]);
      await c.#spawn();
      return c;
    } catch (err) {
      await c.dispose().catch(() => undefined);
      throw err;
    }
  }

  /** Server output of the current and earlier runs (for failure messages). */
  get log(): string {
    return this.#log.join('\n');
  }

  /** The URL of a database of this cluster (default: the maintenance database). */
  url(database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates an empty database and returns its URL. */
  async createDatabase(name = `t${++this.#dbs}_${process.pid}`): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  async #run(tool: string, args: string[]): Promise<void> {
    const path = tool === 'sh' ? 'sh' : join(this.#bin, tool);
    const child = spawn(path, args, { cwd: this.dir.path, stdio: ['ignore', 'pipe', 'pipe'], ...(this.#user ?? {}) });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) throw new Error(`${tool} ${args.join(' ')} exited with ${code}: ${out}`);
  }

  /** Starts the postmaster; resolves on its "ready to accept connections" line, rejects if it exits first or takes over 30 s. */
  async #spawn(): Promise<void> {
    const child = spawn(join(this.#bin, 'postgres'), ['-D', this.dataDir, '-p', String(this.port), '-k', this.socketDir, '-c', 'listen_addresses=127.0.0.1'], {
      cwd: this.dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.#user ?? {}),
    });
    this.#child = child;
    const lines: string[] = [];
    this.#log.push(`--- postgres started (pid ${child.pid})`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`postgres did not accept connections within 30 s:\n${lines.join('\n')}`)), 30_000);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onExit = (code: number | null, signal: string | null) => finish(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${lines.join('\n')}`));
      child.on('exit', onExit);
      for (const s of [child.stdout, child.stderr]) {
        if (s === null) continue;
        createInterface({ input: s }).on('line', (line) => {
          lines.push(line);
          this.#log.push(line);
          if (line.includes(READY)) finish();
        });
      }
    });
  }

  /** Fast shutdown (SIGINT: sessions are cut, the server checkpoints and exits); waits for the postmaster to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    await exited;
  }

  /** SIGKILL of the postmaster, as a crash would; waits until its backends have noticed and exited (bounded), so a restart can take over. */
  async kill9(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const backends = descendants(child.pid);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 15_000;
    while (backends.some(alive)) {
      if (Date.now() > deadline) throw new Error(`postgres backends ${backends.filter(alive).join(', ')} still running 15 s after the postmaster was killed`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Starts the server again on the same port and data (after stop() or kill9(), or stops it first). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.dir.remove();
  }
}

