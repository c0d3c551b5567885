import type { Migration } from '../migrate.js';

/*
 * PostgreSQL schema: the twin of ./sqlite.ts, version for version (a test
 * checks the lists agree). Append a new entry to change the schema, never
 * edit an applied one. All migrations pending at start-up run in one
 * transaction under an advisory lock, so two workers starting together apply
 * each once. Times are epoch ms (BIGINT, read back as numbers), derived JSON
 * is JSONB; raw messages and manifests stay TEXT, byte for byte as received.
 * `n` orders messages and rejections of one receipt time: a commit number
 * (commit_seq) times 1,000,000 plus the position in the batch, so rows can be
 * inserted in key order (which keeps concurrent workers from deadlocking)
 * without losing the order they arrived in.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'messages, devices, positions, events, health, alarms, results, rejected, visits, chunks',
    sql: `
CREATE TABLE messages (
  device_id TEXT NOT NULL,
  id TEXT NOT NULL,
  stream TEXT NOT NULL,
  topic TEXT NOT NULL,
  rx BIGINT NOT NULL,
  boot_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  body TEXT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (device_id, id)
);
CREATE INDEX messages_by_stream ON messages (device_id, stream, rx, n);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  first_seen BIGINT,
  last_seen BIGINT,
  presence TEXT CHECK (presence IN ('online', 'offline', 'shutdown')),
  presence_boot_id TEXT,
  presence_at BIGINT,
  presence_reason TEXT,
  birth_boot_id TEXT,
  agent_version TEXT,
  last_fix_time BIGINT,
  last_position_id TEXT,
  last_health_rx BIGINT,
  last_health_id TEXT,
  public_key TEXT,
  key_registered_at BIGINT
);

CREATE TABLE positions (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  fix_time BIGINT NOT NULL,
  rx BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  lat DOUBLE PRECISION NOT NULL,
  lon DOUBLE PRECISION NOT NULL,
  alt_m DOUBLE PRECISION,
  speed_mps DOUBLE PRECISION,
  course_deg DOUBLE PRECISION,
  accuracy_m DOUBLE PRECISION,
  fix_type TEXT NOT NULL,
  sats_used BIGINT,
  clock TEXT,
  stale BOOLEAN NOT NULL,
  reason TEXT,
  backfill BOOLEAN NOT NULL,
  PRIMARY KEY (device_id, msg_id)
);
CREATE INDEX positions_by_time ON positions (device_id, fix_time);

CREATE TABLE events (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  rx BIGINT NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  data JSONB,
  PRIMARY KEY (device_id, msg_id)
);
CREATE INDEX events_by_time ON events (device_id, ts);
CREATE INDEX events_by_ts ON events (ts);

CREATE TABLE health (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  rx BIGINT NOT NULL,
  trigger TEXT NOT NULL,
  battery_pct DOUBLE PRECISION,
  body JSONB NOT NULL,
  PRIMARY KEY (device_id, msg_id)
);
CREATE INDEX health_by_time ON health (device_id, ts);

CREATE TABLE alarms (
  device_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  state_rank BIGINT NOT NULL,
  state_rx BIGINT NOT NULL,
  trigger TEXT NOT NULL,
  raised_at BIGINT NOT NULL,
  escalation BIGINT NOT NULL,
  raised_count BIGINT NOT NULL,
  message_count BIGINT NOT NULL,
  last_fix JSONB,
  last_fix_rx BIGINT,
  battery_pct DOUBLE PRECISION,
  battery_rx BIGINT,
  first_rx BIGINT NOT NULL,
  last_rx BIGINT NOT NULL,
  PRIMARY KEY (device_id, alarm_id)
);
CREATE INDEX alarms_open ON alarms (state_rank, raised_at);
CREATE INDEX alarms_by_id ON alarms (alarm_id);
CREATE INDEX alarms_by_time ON alarms (raised_at);

CREATE TABLE alarm_history (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  escalation BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  rx BIGINT NOT NULL,
  PRIMARY KEY (device_id, msg_id)
);
CREATE INDEX alarm_history_by_alarm ON alarm_history (device_id, alarm_id, rx);

CREATE TABLE results (
  device_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  result JSONB,
  restart_required BOOLEAN NOT NULL,
  ts BIGINT NOT NULL,
  rx BIGINT NOT NULL,
  PRIMARY KEY (device_id, request_id)
);
CREATE INDEX results_by_request ON results (request_id);

CREATE TABLE rejected (
  key TEXT NOT NULL UNIQUE,
  rx BIGINT NOT NULL,
  topic TEXT NOT NULL,
  device_id TEXT,
  category TEXT NOT NULL,
  detail TEXT NOT NULL,
  msg_id TEXT,
  payload BYTEA NOT NULL,
  n BIGINT NOT NULL
);
CREATE INDEX rejected_by_rx ON rejected (rx, n);
CREATE SEQUENCE commit_seq;

CREATE TABLE visits (
  device_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  visit_id TEXT,
  trigger TEXT,
  started_at BIGINT,
  ended_at BIGINT,
  state TEXT NOT NULL CHECK (state IN ('recording', 'closed')),
  verification TEXT NOT NULL CHECK (verification IN ('pending', 'verified', 'failed')),
  verification_detail TEXT,
  manifest TEXT,
  manifest_path TEXT,
  manifest_link TEXT,
  manifest_sig TEXT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, session_id)
);
CREATE INDEX visits_by_time ON visits (device_id, started_at);

CREATE TABLE chunks (
  device_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  idx BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  path TEXT NOT NULL,
  link TEXT NOT NULL,
  start_time BIGINT NOT NULL,
  end_time BIGINT NOT NULL,
  verified BOOLEAN NOT NULL,
  stored_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, session_id, idx)
);
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
  sent_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'error', 'refused', 'expired', 'unknown')),
  reason TEXT,
  result TEXT,
  answered_at BIGINT,
  publishes INTEGER NOT NULL,
  published_at BIGINT,
  next_publish_at BIGINT,
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
  received_at BIGINT NOT NULL,
  step INTEGER NOT NULL,
  tier INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  step_at BIGINT,
  next_step_at BIGINT,
  acknowledged_by TEXT,
  acknowledged_at BIGINT,
  device_acknowledged_at BIGINT,
  resolved_by TEXT,
  resolved_at BIGINT,
  note TEXT,
  ack_pending INTEGER NOT NULL,
  ack_request_id TEXT,
  resolve_pending INTEGER NOT NULL,
  resolve_request_id TEXT,
  version INTEGER NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, alarm_id)
);
CREATE INDEX desk_alarms_due ON desk_alarms (next_step_at);
CREATE INDEX desk_alarms_updated ON desk_alarms (updated_at);
CREATE INDEX desk_alarms_by_time ON desk_alarms (received_at);

CREATE TABLE desk_history (
  device_id TEXT NOT NULL,
  alarm_id TEXT NOT NULL,
  state TEXT NOT NULL,
  at BIGINT NOT NULL,
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
  at BIGINT NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('pending', 'sent', 'failed')),
  latency_ms INTEGER,
  error TEXT,
  tries INTEGER NOT NULL,
  owner TEXT,
  lease_until BIGINT
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
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  last_used_at BIGINT
);
`,
  },
];
