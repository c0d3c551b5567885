import type { PresenceState } from './views.js';

/** A device's presence columns as stored. */
export interface PresenceRow {
  presence: PresenceState | null;
  presence_boot_id: string | null;
  presence_at: number | null;
  presence_reason: string | null;
  birth_boot_id: string | null;
  agent_version: string | null;
}

/** What a status message says, in the order the batch holds them. */
export interface StatusInput {
  state: PresenceState;
  bootId: string;
  rx: number;
  reason?: string;
  agentVersion?: string;
}

export const NO_PRESENCE: PresenceRow = { presence: null, presence_boot_id: null, presence_at: null, presence_reason: null, birth_boot_id: null, agent_version: null };

/**
 * Applies status messages to a device's presence. The retained birth and the
 * last will carry the same bootId, so a will whose bootId differs from the
 * latest birth's belongs to an earlier boot (its connection died after the
 * device had already reconnected, or the broker delivered it late) and does
 * not change the presence. The same holds for a `shutdown` of another boot.
 * Returns the new row and the statuses it ignored as stale.
 */
export function applyStatuses(current: PresenceRow, statuses: readonly StatusInput[]): { row: PresenceRow; stale: StatusInput[] } {
  let row = current;
  const stale: StatusInput[] = [];
  for (const s of statuses) {
    if (s.state !== 'online' && row.birth_boot_id !== null && row.birth_boot_id !== s.bootId) {
      stale.push(s);
      continue;
    }
    row = {
      presence: s.state,
      presence_boot_id: s.bootId,
      presence_at: s.rx,
      presence_reason: s.reason ?? null,
      birth_boot_id: s.state === 'online' ? s.bootId : row.birth_boot_id,
      agent_version: s.state === 'online' && s.agentVersion !== undefined ? s.agentVersion : row.agent_version,
    };
  }
  return { row, stale };
}
