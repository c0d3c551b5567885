#!/usr/bin/env node
// The part of systemd a test needs around the agent, as its own process so any command can restart it:
//   node service-stand-in.js CMD [ARGS...]
// runs CMD (Restart=always, 200 ms apart), restarts it on SIGHUP (what `systemctl restart` does; the test's
// --restart-cmd is "kill -HUP <pid>"), and on SIGTERM stops it and exits. CMD is looked up anew on every
// start, so a switched /opt/nrec/current runs the new release. The child's output goes to ours.
import { spawn, type ChildProcess } from 'node:child_process';

const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  process.stderr.write('usage: service-stand-in CMD [ARGS...]\n');
  process.exit(2);
}
let child: ChildProcess | undefined;
let stopping = false;
let restarting = false;

function start(): void {
  const c = spawn(cmd!, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  child = c;
  process.stdout.write(`service-stand-in: started pid ${c.pid ?? '?'}\n`);
  c.on('error', (err) => process.stdout.write(`service-stand-in: ${err.message}\n`));
  c.on('exit', (code, signal) => {
    process.stdout.write(`service-stand-in: exited code ${code} signal ${signal}\n`);
    if (child === c) child = undefined;
    if (stopping) process.exit(0);
    if (!restarting) setTimeout(start, 200);
  });
}

function stopChild(): Promise<void> {
  const c = child;
  if (c === undefined || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

process.on('SIGHUP', () => {
  if (restarting) return;
  restarting = true;
  void stopChild().then(() => {
    restarting = false;
    start();
  });
});
process.on('SIGTERM', () => {
  stopping = true;
  if (child === undefined) process.exit(0);
  void stopChild();
});
start();
