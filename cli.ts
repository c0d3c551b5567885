#!/usr/bin/env node
// nrec: the one front door. Subcommands are loaded lazily so `nrec agent` on a
// recorder never loads the simulator, the broker or the ingest.
const commands: Record<string, { about: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> }> = {
  agent: { about: 'run the recorder agent (--config FILE)', load: () => import('./agent/main.js') },
  sim: { about: 'run the simulator end to end: broker, ingest, hardware stand-ins, agent', load: () => import('./simulator/sim-command.js') },
  ingest: { about: 'receive, validate and store what devices send (--broker URL --store DIR)', load: () => import('./platform/ingest/ingest-command.js') },
  nmea: { about: 'replay an NMEA log (file or -) through the parser: one JSON fix per epoch, then counts', load: () => import('./agent/gps/nmea-command.js') },
  verify: { about: 'audit an evidence store offline: chains, signatures, files (<store> [--keys DIR])', load: () => import('./platform/ingest/evidence/verify-command.js') },
  link: { about: 'link impairment proxy: rate cap, latency, cut/restore (--target HOST:PORT)', load: () => import('./simulator/link/link-command.js') },
  provision: { about: 'create this device\'s evidence key and TLS client key + CSR (--device-id ID)', load: () => import('./agent/provision/provision-command.js') },
  doctor: { about: 'check this recorder: config, GPS, button, camera, broker, clock, disk, keys, outbox ([--config FILE] [--json])', load: () => import('./agent/doctor/doctor-command.js') },
  update: { about: 'install a signed bundle, test it, commit or roll back (BUNDLE.tar.gz)', load: () => import('./agent/update/update-command.js') },
  token: { about: 'API tokens in the platform store: create --role R --name N, list, revoke', load: () => import('./platform/cli/token-command.js') },
  alarms: { about: 'the alarm desk through the API: list, ack ID --by NAME, resolve ID --note TEXT', load: () => import('./platform/cli/alarms-command.js') },
  positions: { about: 'a device\'s positions from the store (DEVICE --since TIME) as a table, JSON, CSV, GPX, GeoJSON', load: () => import('./platform/cli/positions-command.js') },
  command: { about: 'send a command to a device through the API and show its result (DEVICE NAME [ARGS JSON])', load: () => import('./platform/cli/command-command.js') },
  'docs-gen': { about: 'write the configuration reference (docs/configuration.md)', load: () => import('./agent/config/docs-command.js') },
  'protocol-gen': { about: 'write the published JSON Schemas and AsyncAPI document', load: () => import('./protocol/generate-command.js') },
};

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write('usage: nrec <command> [options]\n\ncommands:\n');
    for (const [n, c] of Object.entries(commands)) process.stdout.write(`  ${n.padEnd(10)} ${c.about}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`nrec: unknown command "${name}"; run "nrec help" for the list\n`);
    return 2;
  }
  return (await command.load()).main(rest);
}

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`nrec: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
