import type { ApiVisitCheck } from './types.js';

/*
 * A visit's evidence on a timeline and in playback order. Pure.
 */

export type Chunk = ApiVisitCheck['chunks'][number];

/** The chunks that may be played: verified ones, in chain order. Missing and rejected ones are skipped (the timeline shows them). */
export function playOrder(check: ApiVisitCheck): Chunk[] {
  return check.chunks.filter((c) => c.state === 'verified').sort((a, b) => a.index - b.index);
}

export interface Segment {
  kind: 'chunk' | 'gap';
  from: number;
  to: number;
  /** Share of the timeline, 0..1. */
  left: number;
  width: number;
  index?: number;
  state?: Chunk['state'];
  reason?: string;
}

/** Chunks and gaps laid out on one time axis from the first start to the last end. */
export function timeline(check: ApiVisitCheck): { start: number; end: number; segments: Segment[] } {
  const timed = check.chunks.filter((c) => c.startTime !== undefined && c.endTime !== undefined);
  const times = [...timed.flatMap((c) => [c.startTime!, c.endTime!]), ...check.gaps.flatMap((g) => [g.from, g.to])];
  if (times.length === 0) return { start: 0, end: 0, segments: [] };
  const start = Math.min(...times);
  const end = Math.max(...times);
  const span = Math.max(1, end - start);
  const seg = (kind: Segment['kind'], from: number, to: number, extra: Partial<Segment>): Segment => ({ kind, from, to, left: (from - start) / span, width: Math.max(0, to - from) / span, ...extra });
  const segments = [
    ...timed.map((c) => seg('chunk', c.startTime!, c.endTime!, { index: c.index, state: c.state, ...(c.reason !== undefined ? { reason: c.reason } : {}) })),
    ...check.gaps.map((g) => seg('gap', g.from, g.to, { reason: g.reason })),
  ].sort((a, b) => a.from - b.from || (a.kind === 'gap' ? 1 : -1));
  return { start, end, segments };
}
