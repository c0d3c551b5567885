import type { Static } from '@sinclair/typebox';
import type { Device, HealthSummary, LastPosition, OFFLINE_CAUSES, Position } from '../../protocol/api.js';
import type { DeviceView, HealthView, PositionView, PresenceView } from '../store/index.js';

/*
 * A device's connection state as the API shows it, from what the store
 * knows: the retained birth and last will (presence) and the time of its
 * latest message. Pure: the caller gives the time.
 */

export type OfflineCause = (typeof OFFLINE_CAUSES)[number];
export type ConnectionState = { status: 'online' } | { status: 'offline'; offlineCause: OfflineCause };

/** Default: a device that sent nothing for 2 minutes is offline (it sends health every 60 s while connected). */
export const DEFAULT_SILENCE_MS = 120_000;

/**
 * Offline when its will was published (the broker lost it) or it shut down;
 * otherwise offline when nothing came for longer than `silenceMs` (a dead
 * link the broker has not noticed yet, a broker that lost the retained will);
 * otherwise online.
 */
export function connectionState(d: { presence?: Pick<PresenceView, 'state'>; lastSeen?: number }, now: number, silenceMs: number): ConnectionState {
  if (d.presence?.state === 'offline') return { status: 'offline', offlineCause: 'will' };
  if (d.presence?.state === 'shutdown') return { status: 'offline', offlineCause: 'shutdown' };
  if (d.lastSeen === undefined) return { status: 'offline', offlineCause: 'never-seen' };
  if (now - d.lastSeen > silenceMs) return { status: 'offline', offlineCause: 'silent' };
  return { status: 'online' };
}

export function apiPosition(p: PositionView): Static<typeof Position> {
  return { ...p };
}

/** The last position with its age by fix time (a backfilled fix shows how old it really is). */
export function lastPosition(p: PositionView, now: number): Static<typeof LastPosition> {
  return { ...p, ageMs: now - p.fixTime };
}

/** A health report with its age by receipt (the device's clock may be unsynchronised). */
export function healthSummary(h: HealthView, now: number): Static<typeof HealthSummary> {
  const out: Static<typeof HealthSummary> = { msgId: h.msgId, ts: h.ts, rx: h.rx, ageMs: now - h.rx, trigger: h.trigger, report: h.health as Static<typeof HealthSummary>['report'] };
  if (h.batteryPct !== undefined) out.batteryPct = h.batteryPct;
  return out;
}

export function apiDevice(d: DeviceView, now: number, silenceMs: number): Static<typeof Device> {
  const out: Static<typeof Device> = { id: d.id, ...connectionState(d, now, silenceMs), keyRegistered: d.publicKey !== undefined };
  if (d.firstSeen !== undefined) out.firstSeen = d.firstSeen;
  if (d.lastSeen !== undefined) {
    out.lastSeen = d.lastSeen;
    out.lastSeenAgeMs = now - d.lastSeen;
  }
  if (d.presence !== undefined) out.presence = { ...d.presence };
  if (d.agentVersion !== undefined) out.agentVersion = d.agentVersion;
  if (d.lastPosition !== undefined) out.lastPosition = lastPosition(d.lastPosition, now);
  if (d.lastHealth !== undefined) out.lastHealth = healthSummary(d.lastHealth, now);
  return out;
}
