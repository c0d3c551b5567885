import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { access, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { SerialPort } from 'serialport';

/**
 * A linked pair of pseudo-terminals, the way the OS presents a USB GPS:
 * the agent opens `devicePath` with serialport exactly as it would open
 * /dev/ttyACM0; the simulator writes NMEA into `writer`.
 *
 * Preferred: socat (two ptys linked). Fallback when socat is missing:
 * python3's pty module holds the master side and relays our stdin into it.
 */
export interface PtyPair {
  readonly devicePath: string;
  readonly via: 'socat' | 'python3';
  /** Bytes written here come out of devicePath. */
  readonly writer: Writable;
  /** Removes the ptys: the agent sees the device disappear (like a USB unplug). */
  close(): Promise<void>;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function waitForPath(path: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pty helper exited early (${child.exitCode}): ${log()}`);
    try {
      await access(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`pty ${path} did not appear within 5 s: ${log()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(t);
}

/** Creates a pty pair with `devicePath` as the agent's end; `prefer` forces a method (tests of the fallback). */
export async function createPtyPair(devicePath: string, prefer?: 'socat' | 'python3'): Promise<PtyPair> {
  const method = prefer ?? (has('socat') ? 'socat' : has('python3') ? 'python3' : undefined);
  if (method === undefined) throw new Error('neither socat nor python3 is installed; install socat: apt-get install -y socat');
  await rm(devicePath, { force: true });
  return method === 'socat' ? viaSocat(devicePath) : viaPython(devicePath);
}

async function viaSocat(devicePath: string): Promise<PtyPair> {
  const hostPath = `${devicePath}.host`;
  await rm(hostPath, { force: true });
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const port = await (async () => {
    try {
      await waitForPath(devicePath, child, () => log);
      await waitForPath(hostPath, child, () => log);
      const p = new SerialPort({ path: hostPath, baudRate: 9600 });
      await new Promise<void>((resolve, reject) => {
        p.once('open', () => resolve());
        p.once('error', reject);
      });
      return p;
    } catch (err) {
      // Leave no socat behind when the pair could not be made.
      await stopChild(child);
      throw err;
    }
  })();
  port.on('error', () => { /* the other side vanished; close() reports nothing more useful */ });
  return {
    devicePath,
    via: 'socat',
    writer: port,
    close: async () => {
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
      await stopChild(child);
      await rm(devicePath, { force: true });
      await rm(hostPath, { force: true });
    },
  };
}

const PY_RELAY = `
import os, pty, sys, tty, select
master, slave = pty.openpty()
tty.setraw(slave)
link = sys.argv[1]
try: os.unlink(link)
except FileNotFoundError: pass
os.symlink(os.ttyname(slave), link)
sys.stdout.write("ready\\n"); sys.stdout.flush()
stdin = sys.stdin.fileno()
while True:
    r, _, _ = select.select([stdin, master], [], [])
    if stdin in r:
        data = os.read(stdin, 4096)
        if not data: break
        os.write(master, data)
    if master in r:
        try: os.read(master, 4096)
        except OSError: pass
`;

async function viaPython(devicePath: string): Promise<PtyPair> {
  const child = spawn('python3', ['-c', PY_RELAY, devicePath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  child.stdin?.on('error', () => { /* relay gone: close() handles it */ });
  try {
    await waitForPath(devicePath, child, () => log);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    devicePath,
    via: 'python3',
    writer: child.stdin as Writable,
    close: async () => {
      child.stdin?.end();
      await stopChild(child);
      await rm(devicePath, { force: true });
    },
  };
}
