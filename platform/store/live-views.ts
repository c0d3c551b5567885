import { derive } from './derive.js';
import { NATIVE_JSON, toHealth, toPosition, type Row } from './rows.js';
import type { AcceptedMessage } from './types.js';
import type { HealthView, PositionView } from './views.js';

/**
 * The views a just-stored message adds (its position, its health report),
 * made by the same derivation the store commits, so the live stream shows
 * exactly what a query would return.
 */
export function liveViews(a: AcceptedMessage): { position?: PositionView; health?: HealthView } {
  const d = derive([a]);
  const out: { position?: PositionView; health?: HealthView } = {};
  if (d.positions[0] !== undefined) out.position = toPosition(d.positions[0] as unknown as Row);
  if (d.health[0] !== undefined) out.health = toHealth(d.health[0] as unknown as Row, NATIVE_JSON);
  return out;
}
