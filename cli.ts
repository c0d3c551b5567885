#!/usr/bin/env node
// nrec: the one front door. One entry per subcommand: its name, a one-line
// summary, its help text and a lazy loader (`nrec agent` on a recorder never
// loads the simulator, the broker or the ingest). The behaviour common to all
// of them (--version, help, --help, bad usage, failures, broken pipes) is in
// lib/cli-run.ts.
import { isBrokenPipe, runCli, type CommandEntry } from './lib/cli-run.js';
import { NREC_VERSION } from './lib/version.js';
import { ALARMS_HELP, COMMAND_HELP, POSITIONS_HELP, TOKEN_HELP } from './platform/cli/help.js';

const commands: Record<string, CommandEntry> = {
  agent: {
    summary: 'run the recorder agent (systemd runs this)',
    help: `usage: nrec agent [--config FILE]
Runs the recorder agent until SIGTERM/SIGINT.
  -c, --config FILE  agent configuration (default /etc/nrec/config.json; see docs/configuration.md)
Exit codes: 2 the configuration is invalid (every problem is listed), 1 the agent cannot start (the cause is named).`,
    load: () => import('./agent/main.js'),
  },
  sim: {
    summary: 'the whole system on a laptop: broker, ingest, hardware stand-ins, agent',
    help: `usage: nrec sim [--duration SECONDS] [--store DIR] [--broker URL] [--device ID] [--sos-at SECONDS|none] [--ack-after SECONDS|none] [--no-media] [--http HOST:PORT]
Runs a broker (embedded unless --broker), the platform (ingest, alarm desk, API and operator
console), a simulated GPS on a pty, a GPIO button and the agent; presses SOS once; an operator
acknowledges it. Prints the console's URL with an operator token, what is unavailable and why,
a live status line and, last, one line of JSON with what the ingest stored for the simulated device.
  --duration S      stop after S seconds (default: until Ctrl-C)
  --store DIR       keep the ingest's store in DIR (default: a fresh temp dir, printed)
  --broker URL      use this broker instead of the embedded one
  --device ID       the simulated device's id (default sim-001)
  --sos-at S|none   when the simulated nurse holds the button (default: half-way)
  --ack-after S|none  when the simulated operator acknowledges the SOS (default 3; none: acknowledge it on the console)
  --no-media        no evidence capture
  --http HOST:PORT  where the API and console listen (default 127.0.0.1 on a free port; printed)`,
    load: () => import('./simulator/sim-command.js'),
  },
  ingest: {
    summary: 'receive, validate and store what devices send; acknowledge only what is stored',
    help: `usage: nrec ingest --store DIR [--broker URL] [--db URL] [--share GROUP --client-id ID] [--mqtt5]
                   [--ca FILE] [--cert FILE --key FILE] [--username NAME --password-file FILE] [--contacts FILE]
                   [--http HOST:PORT [--offline-after S] [--trust-proxy] [--tiles URL|none] [--tiles-attribution TEXT]]
Runs the platform's intake until SIGINT/SIGTERM: validates what devices publish,
commits it to the store, and only then acknowledges it (to the broker, and end to
end to the device); verifies and stores evidence. Prints {"ready":true,...} once
connected and subscribed; a broker that is not there yet is waited for.
  --store DIR           evidence files and device keys; also the default SQLite store (DIR/platform.db)
  --db URL              the store: sqlite:/path/file.db or postgres://user@host/db (password: PGPASSWORD or ~/.pgpass)
  --broker URL          mqtt:// or mqtts:// (default mqtt://127.0.0.1:1883)
  --share GROUP         shared subscription: several workers split the load (give each a --client-id)
  --client-id ID        this worker's persistent session id (default: derived from --store)
  --mqtt5               speak MQTT 5 (default 3.1.1, which every supported broker speaks)
  --ca FILE             CA certificate to trust for mqtts://
  --cert FILE, --key FILE  client certificate and key for mutual TLS
  --username NAME, --password-file FILE  broker credentials (the password is read from the file)
  --contacts FILE       run the alarm desk: tell the contacts in FILE about every alarm until one acknowledges
                        (docs/alarm-desk.md; reloaded when it changes; a bad file at start is an error, exit 2)
  --http HOST:PORT      serve the API (docs/api.md) and the operator console at http://HOST:PORT/console/
  --offline-after S     a device silent this long is offline (default 120)
  --trust-proxy         client addresses from X-Forwarded-For (behind a reverse proxy only)
  --tiles URL|none      the console map's tile URL template, {z}/{x}/{y} and optionally {s}
                        (default https://tile.openstreetmap.org/{z}/{x}/{y}.png; none: a plain background)
  --tiles-attribution TEXT  the tile source's attribution, shown on the map
Exit codes: 1 when it cannot do its job (bad credentials or certificates, an ACL refusing
the platform, a store that cannot be opened or keeps failing: the cause is named), 2 bad usage.`,
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
  provision: {
    summary: "create this device's evidence key and TLS client key + CSR",
    help: `usage: nrec provision --device-id ID [--out DIR] [--config FILE] [--self-signed [--days N]] [--force]

Creates this device's keys: the Ed25519 evidence key and a TLS client key with
a certificate request (CN = ID). --out defaults to the keys directory of the
config's dataDir (/var/lib/nrec/keys). Existing keys are kept unless --force.`,
    load: () => import('./agent/provision/provision-command.js'),
  },
  doctor: {
    summary: 'check this recorder: config, GPS, button, camera, broker, clock, disk, keys, outbox',
    help: `usage: nrec doctor [--config FILE] [--json]

Checks this recorder: configuration, GPS, alarm button, camera and microphone,
ffmpeg, broker (TLS, authorisation), clock, disk, power, keys, outbox. Prints
✓ / ! / ✗ per check with the fix for each problem; exits 1 when any check fails.`,
    load: () => import('./agent/doctor/doctor-command.js'),
  },
  update: {
    summary: 'install a signed bundle, test it, commit or roll back',
    help: `usage: nrec update BUNDLE.tar.gz [options]    install a signed bundle, test it, commit or roll back
       nrec update --service [options]          resume an update under test, then take a remote request (nrec-update.service)
       nrec update --status [options]           print the last update's state

options:
  --root DIR          installation root (default /)
  --key FILE          release public key (default ROOT/etc/nrec/release-key.pem)
  --sha256 HEX        refuse the bundle unless its SHA-256 is this
  --deadline S        seconds the new release has to report itself healthy (default: config update.healthDeadlineS, 300)
  --restart-cmd CMD   how to restart the agent (default: systemctl restart nrec.service)
  --no-wait           switch and restart, and leave the health watch to nrec-update.service`,
    load: () => import('./agent/update/update-command.js'),
  },
  token: {
    summary: 'API tokens in the platform store: create, list, revoke',
    help: TOKEN_HELP,
    load: () => import('./platform/cli/token-command.js'),
  },
  alarms: {
    summary: 'the alarm desk through the API: list, ack ID --by NAME, resolve ID --note TEXT',
    help: ALARMS_HELP,
    load: () => import('./platform/cli/alarms-command.js'),
  },
  positions: {
    summary: "a device's positions from the store as a table, JSON, CSV, GPX, GeoJSON",
    help: POSITIONS_HELP,
    load: () => import('./platform/cli/positions-command.js'),
  },
  command: {
    summary: 'send a command to a device through the API and show its result',
    help: COMMAND_HELP,
    load: () => import('./platform/cli/command-command.js'),
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
