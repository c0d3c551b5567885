/** Help texts of the platform CLI commands: cli.ts shows them without loading the commands. */

export const TOKEN_HELP = `usage: nrec token create --role viewer|operator|admin --name NAME [--expires SPAN|TIME] (--db URL | --store DIR) [--json]
       nrec token list (--db URL | --store DIR) [--json]
       nrec token revoke ID|NAME (--db URL | --store DIR)
API bearer tokens, straight in the platform store (so the first admin token needs
nothing but access to the database). The token is printed once, by create; the
store keeps only its hash. Roles: viewer (read) < operator (acknowledge alarms,
send safe commands) < admin (every command).
  --name NAME      who holds it; recorded as who acknowledged or commanded (1-64 characters)
  --expires X      a span from now (90d, 12h) or a time (2026-12-31); default: never
  --db URL         the store: sqlite path or postgres://… (as nrec ingest --db)
  --store DIR      or the ingest's store directory (its platform.db)`;

export const ALARMS_HELP = `usage: nrec alarms list [--open] [--device ID] [--since TIME] [--json] [--api URL] [--token-file FILE]
       nrec alarms ack ALARM_ID [--device ID] [--by NAME] [--api URL] [--token-file FILE]
       nrec alarms resolve ALARM_ID --note TEXT [--device ID] [--by NAME] [--api URL] [--token-file FILE]
The alarm desk through the platform's API (the desk runs in nrec ingest --http, which
holds the escalation and the broker connection that sends alarm.ack to the device).
  --by NAME          the person acknowledging, recorded as "NAME via <token name>"
  --device ID        which device, when two devices used the same alarm id
  --api URL          default $NREC_API or http://127.0.0.1:8080
  --token-file FILE  the bearer token (or $NREC_TOKEN_FILE, $NREC_TOKEN); ack and resolve need operator`;

export const POSITIONS_HELP = `usage: nrec positions DEVICE --since TIME [--until TIME] [--limit N] [--json | --format csv|gpx|geojson] (--db URL | --store DIR)
A device's positions by fix time, read straight from the platform store (works
with the platform stopped). A table by default; --json for scripts; csv, gpx
(GPX 1.1) and geojson as the API exports them.
  --since TIME   epoch ms, ISO 8601 (2026-01-05T08:00Z) or a span back from now (2h, 30m, 7d)
  --until TIME   the same; default now
  --limit N      at most N positions, oldest first (default 10000, at most 100000)`;

export const COMMAND_HELP = `usage: nrec command DEVICE NAME [ARGS_JSON] [--wait SECONDS] [--ttl SECONDS] [--json] [--api URL] [--token-file FILE]
Sends a command to a device through the platform's API, which records it and
publishes it; waits for the device's answer and prints it. Exit 0 when the device
answered ok, 1 when it answered otherwise or not within --wait.
  ARGS_JSON       the arguments as a JSON object, e.g. '{"visitId":"v-17","consent":true}'
  --wait S        how long to wait for the answer (default 10, at most 30; 0: just send)
  --ttl S         the device refuses it after this long (default 60)
  --api URL, --token-file FILE   as for nrec alarms (operator; some commands need admin)
Examples: nrec command rec-042 ping
          nrec command rec-042 geofence.set '{"id":"home-7","lat":52.52,"lon":13.405,"radiusM":60}'`;
