#!/usr/bin/env node
// nrec: the one front door. One entry per subcommand: its name, a one-line
// summary, its help text and a lazy loader (`nrec agent` on a recorder never
// loads the simulator, the broker or the ingest). The behaviour common to all
// of them (--version, help, --help, bad usage, failures, broken pipes) is in
// lib/cli-run.ts.
import { isBrokenPipe, runCli, type CommandEntry } from './lib/cli-run.js';
import { NREC_VERSION } from './lib/version.js';

const commands: Record<string, CommandEntry> = {
  agent: {
    summary: 'run the recorder agent (systemd runs this)',
    help: `usage: nrec agent [--config FILE]
Runs the recorder agent until SIGTERM/SIGINT.
  -c, --config FILE  agent configuration (default /etc/nrec/agent.json; see docs/configuration.md)
Exit codes: 2 the configuration is invalid (every problem is listed), 1 the agent cannot start (the cause is named).`,
    load: () => import('./agent/main.js'),
  },
  sim: {
    summary: 'the whole system on a laptop: broker, ingest, hardware stand-ins, agent',
    help: `usage: nrec sim [--duration SECONDS] [--store DIR] [--broker URL] [--device ID] [--sos-at SECONDS|none] [--ack-after SECONDS] [--no-media]
Runs a broker (embedded unless --broker), the ingest, a simulated GPS on a pty, a GPIO
button and the agent; presses SOS once; an operator acknowledges it. Prints what is
unavailable and why, a live status line and, last, one line of JSON with what the
ingest stored for the simulated device.
  --duration S      stop after S seconds (default: until Ctrl-C)
  --store DIR       keep the ingest's store in DIR (default: a fresh temp dir, printed)
  --broker URL      use this broker instead of the embedded one
  --device ID       the simulated device's id (default sim-001)
  --sos-at S|none   when the simulated nurse holds the button (default: half-way)
  --ack-after S     when the simulated operator acknowledges the SOS (default 3)
  --no-media        no evidence capture`,
    load: () => import('./simulator/sim-command.js'),
  },
  ingest: {
    summary: 'receive, validate and store what devices send',
    help: `usage: nrec ingest --store DIR [--broker URL] [--share GROUP --client-id ID] [--mqtt5] [--ca FILE] [--cert FILE --key FILE] [--username NAME --password-file FILE]
Runs the platform's intake until SIGINT/SIGTERM: validates, deduplicates, stores,
verifies evidence and acknowledges. Prints {"ready":true,...} once subscribed.
  --store DIR           where accepted messages and evidence are kept (required)
  --broker URL          mqtt://, mqtts://, ws:// or wss:// (default mqtt://127.0.0.1:1883)
  --share GROUP         MQTT 5 shared subscription: several workers split the load
  --client-id ID        this worker's session id (give each worker of a group its own)
  --mqtt5               use MQTT 5 (implied by --share)
  --ca FILE             CA certificate to trust for mqtts:// and wss://
  --cert FILE, --key FILE  client certificate and key for mutual TLS
  --username NAME, --password-file FILE  broker credentials (the password is read from the file)
Exit codes: 1 when it cannot connect at start (refused, TLS, not authorised: the cause is named), 2 bad usage.`,
    load: () => import('./platform/ingest/ingest-command.js'),
  },
  nmea: {
    summary: 'replay an NMEA log through the parser: one JSON fix per epoch, then counts',
    help: `usage: nrec nmea [FILE|-] [--no-checksum]
Replays an NMEA log (default: stdin) through the agent's parser and fix assembler
and prints one JSON fix per epoch, then one line of counts. Lines starting with #
are comments (gpsd log headers).
  --no-checksum  accept sentences without a *hh checksum`,
    load: () => import('./agent/gps/nmea-command.js'),
  },
  verify: {
    summary: 'audit an evidence store offline: chains, signatures, files',
    help: `usage: nrec verify STORE [--keys DIR|FILE] [--json]
Audits an evidence store (an ingest store, or its evidence/ directory).
  --keys DIR|FILE  device public keys: a directory of <deviceId>.pem, or one PEM for every device (default STORE/keys)
  --json           print the report as one JSON object
Exit codes: 0 every chunk checked and sound, 1 a problem (the chunk is named), nothing to check, or no such store; 2 bad usage.`,
    load: () => import('./platform/ingest/evidence/verify-command.js'),
  },
  link: {
    summary: 'link impairment proxy: rate cap, latency, cut/restore',
    help: `usage: nrec link --target HOST:PORT [--listen PORT] [--up KBPS] [--down KBPS] [--latency MS] [--buffer BYTES]
Runs a cellular-link stand-in between agent and broker until SIGINT/SIGTERM.
Commands on stdin, one per line: cut | cut reset | restore | up KBPS | down KBPS | latency MS | stats`,
    load: () => import('./simulator/link/link-command.js'),
  },
  'docs-gen': {
    summary: 'write the configuration reference (docs/configuration.md)',
    help: `usage: nrec docs-gen [FILE]
Writes the configuration reference generated from the schema to FILE
(default docs/configuration.md). Writes that one file and nothing else.`,
    load: () => import('./agent/config/docs-command.js'),
  },
  'protocol-gen': {
    summary: 'write the published JSON Schemas and AsyncAPI document',
    help: `usage: nrec protocol-gen [DIR]
Writes the published protocol documents into DIR (default protocol/published).
Replaces the files it writes and removes only files it wrote before that are no
longer published (named in DIR/.generated); anything else in DIR is left alone.`,
    load: () => import('./protocol/generate-command.js'),
  },
};

// The reader of stdout went away (`nrec nmea log | head`): stop quietly instead of a stack trace.
process.stdout.on('error', (err) => {
  if (isBrokenPipe(err)) process.exit(0);
  throw err;
});

runCli('nrec', NREC_VERSION, commands, process.argv.slice(2)).then(
  // Exit now, even if a timer or a socket is still open: a command that returned
  // is done, and a process that stays up without doing its job is worse than one
  // that exits and is restarted by its service manager.
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`nrec: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
