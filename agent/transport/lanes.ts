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
