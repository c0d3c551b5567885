/**
 * Lanes, highest priority first. The first five live in the durable outbox;
 * media parts are pulled from the media spool by the bulk uploader so chunks
 * are not written to disk twice.
 */
export const CONTROL_LANES = ['alarm', 'result', 'status', 'location', 'manifest'] as const;
export type ControlLane = (typeof CONTROL_LANES)[number];
export type AnyLane = ControlLane | 'part';

/**
 * How much of each lane may be unacknowledged on the control connection at
 * once. Everything written to a socket lands in the modem's single FIFO, so a
 * backlog (thousands of locations after an outage) must go out in small
 * windows: an alarm put meanwhile then waits behind at most one window.
 */
export const LANE_WINDOW: Record<ControlLane, { messages: number; bytes: number }> = {
  alarm: { messages: 32, bytes: Number.POSITIVE_INFINITY },
  result: { messages: 8, bytes: 64 * 1024 },
  status: { messages: 4, bytes: 16 * 1024 },
  location: { messages: 2, bytes: 24 * 1024 },
  manifest: { messages: 1, bytes: 64 * 1024 },
};

/**
 * How much of each lane may wait for the platform's end-to-end confirmation
 * (published, or PUBACKed by the broker but not yet confirmed by the ingest).
 * While the ingest is away the device keeps its backlog here rather than
 * pouring it into a broker that may drop it (Mosquitto queues 1000 messages per
 * session by default and drops the rest silently); what is in the window is
 * sent again after a timeout or reconnect. Counted in outbox rows (a backfill
 * batch is many rows) and their bytes.
 */
export const CONFIRM_WINDOW: Record<ControlLane, { messages: number; bytes: number }> = {
  alarm: { messages: 256, bytes: Number.POSITIVE_INFINITY },
  result: { messages: 64, bytes: 256 * 1024 },
  status: { messages: 64, bytes: 128 * 1024 },
  location: { messages: 2000, bytes: 1024 * 1024 },
  manifest: { messages: 4, bytes: 512 * 1024 },
};
