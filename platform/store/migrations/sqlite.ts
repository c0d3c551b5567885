import type { Migration } from '../migrate.js';

/*
 * SQLite schema, one migration per entry, applied in order at start-up and
 * recorded in schema_migrations. Append a new entry to change the schema
 * (never edit an applied one), with the same version and meaning as its
 * PostgreSQL twin in ./postgres.ts. Times are epoch ms (INTEGER), booleans
 * 0/1, JSON as TEXT. Messages and rejections are ordered by rowid within a
 * receipt time: SQLite has one writer at a time, so rowid is commit order.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'messages, devices, positions, events, health, alarms, results, rejected, visits, chunks',
    sql: `
CREATE TABLE messages (
  device_id TEXT NOT NULL,
  id TEXT NOT NULL,
  stream TEXT NOT NULL,
  topic TEXT NOT NULL,
  rx INTEGER NOT NULL,
  boot_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (device_id, id)
);
CREATE INDEX messages_by_stream ON messages (device_id, stream, rx);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  first_seen INTEGER,
  last_seen INTEGER,
  presence TEXT CHECK (presence IN ('online', 'offline', 'shutdown')),
  presence_boot_id TEXT,
  presence_at INTEGER,
  presence_reason TEXT,
  birth_boot_id TEXT,
  agent_version TEXT,
  last_fix_time INTEGER,
  last_position_id TEXT,
  last_health_rx INTEGER,
  last_health_id TEXT,
  public_key TEXT,
  key_registered_at INTEGER
) WITHOUT ROWID;

CREATE TABLE positions (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  fix_time INTEGER NOT NULL,
  rx INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  alt_m REAL,
  speed_mps REAL,
  course_deg REAL,
  accuracy_m REAL,
  fix_type TEXT NOT NULL,
  sats_used INTEGER,
  clock TEXT,
  stale INTEGER NOT NULL,
  reason TEXT,
  backfill INTEGER NOT NULL,
  PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX positions_by_time ON positions (device_id, fix_time);

CREATE TABLE events (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  rx INTEGER NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  data TEXT,
  PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events (device_id, ts);
CREATE INDEX events_by_ts ON events (ts);

CREATE TABLE health (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  rx INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  battery_pct REAL,
  body TEXT NOT NULL,
  PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX health_by_time ON health (device_id, ts);

CREATE TABLE alarms (
  device_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  state_rank INTEGER NOT NULL,
  state_rx INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  escalation INTEGER NOT NULL,
  raised_count INTEGER NOT NULL,
  message_count INTEGER NOT NULL,
  last_fix TEXT,
  last_fix_rx INTEGER,
  battery_pct REAL,
  battery_rx INTEGER,
  first_rx INTEGER NOT NULL,
  last_rx INTEGER NOT NULL,
  PRIMARY KEY (device_id, alarm_id)
) WITHOUT ROWID;
CREATE INDEX alarms_open ON alarms (state_rank, raised_at);
CREATE INDEX alarms_by_id ON alarms (alarm_id);
CREATE INDEX alarms_by_time ON alarms (raised_at);

CREATE TABLE alarm_history (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  escalation INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  rx INTEGER NOT NULL,
  PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX alarm_history_by_alarm ON alarm_history (device_id, alarm_id, rx);

CREATE TABLE results (
  device_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  result TEXT,
  restart_required INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  rx INTEGER NOT NULL,
  PRIMARY KEY (device_id, request_id)
) WITHOUT ROWID;
CREATE INDEX results_by_request ON results (request_id);

CREATE TABLE rejected (
  key TEXT NOT NULL UNIQUE,
  rx INTEGER NOT NULL,
  topic TEXT NOT NULL,
  device_id TEXT,
  category TEXT NOT NULL,
  detail TEXT NOT NULL,
  msg_id TEXT,
  payload BLOB NOT NULL
);
CREATE INDEX rejected_by_rx ON rejected (rx);

CREATE TABLE visits (
  device_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  visit_id TEXT,
  trigger TEXT,
  started_at INTEGER,
  ended_at INTEGER,
  state TEXT NOT NULL CHECK (state IN ('recording', 'closed')),
  verification TEXT NOT NULL CHECK (verification IN ('pending', 'verified', 'failed')),
  verification_detail TEXT,
  manifest TEXT,
  manifest_path TEXT,
  manifest_link TEXT,
  manifest_sig TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, session_id)
) WITHOUT ROWID;
CREATE INDEX visits_by_time ON visits (device_id, started_at);

CREATE TABLE chunks (
  device_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  path TEXT NOT NULL,
  link TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  verified INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, session_id, idx)
) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'commands: what the platform sent to devices, re-published until answered',
    sql: `
CREATE TABLE commands (
  request_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,
  by_name TEXT,
  sent_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'error', 'refused', 'expired', 'unknown')),
  reason TEXT,
  result TEXT,
  answered_at INTEGER,
  publishes INTEGER NOT NULL,
  published_at INTEGER,
  next_publish_at INTEGER,
  version INTEGER NOT NULL
);
CREATE INDEX commands_due ON commands (status, next_publish_at);
CREATE INDEX commands_by_device ON commands (device_id, sent_at);
`,
  },
  {
    version: 3,
    name: 'alarm desk: alarm state, state history, notification attempts',
    sql: `
CREATE TABLE desk_alarms (
  device_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('raised', 'notifying', 'acknowledged', 'resolved', 'cancelled')),
  received_at INTEGER NOT NULL,
  step INTEGER NOT NULL,
  tier INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  step_at INTEGER,
  next_step_at INTEGER,
  acknowledged_by TEXT,
  acknowledged_at INTEGER,
  device_acknowledged_at INTEGER,
  resolved_by TEXT,
  resolved_at INTEGER,
  note TEXT,
  ack_pending INTEGER NOT NULL,
  ack_request_id TEXT,
  resolve_pending INTEGER NOT NULL,
  resolve_request_id TEXT,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, alarm_id)
);
CREATE INDEX desk_alarms_due ON desk_alarms (next_step_at);
CREATE INDEX desk_alarms_updated ON desk_alarms (updated_at);
CREATE INDEX desk_alarms_by_time ON desk_alarms (received_at);

CREATE TABLE desk_history (
  device_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  at INTEGER NOT NULL,
  by_name TEXT,
  note TEXT,
  PRIMARY KEY (device_id, alarm_id, state)
);

CREATE TABLE desk_attempts (
  key TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  tier INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  channel TEXT NOT NULL,
  contact TEXT NOT NULL,
  recipient TEXT NOT NULL,
  at INTEGER NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('pending', 'sent', 'failed')),
  latency_ms INTEGER,
  error TEXT,
  tries INTEGER NOT NULL,
  owner TEXT,
  lease_until INTEGER
);
CREATE INDEX desk_attempts_by_alarm ON desk_attempts (device_id, alarm_id, at);
CREATE INDEX desk_attempts_pending ON desk_attempts (result, lease_until);
`,
  },
  {
    version: 4,
    name: 'api tokens',
    sql: `
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
`,
  },
];
