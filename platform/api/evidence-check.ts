import type { Static } from '@sinclair/typebox';
import type { ChunkCheck, VisitCheck } from '../../protocol/api.js';
import type { SessionAudit } from '../ingest/evidence/index.js';
import type { VisitView } from '../store/index.js';

/*
 * A visit's evidence as the console shows it, from an audit of the files as
 * they are now (the same checks as `nrec verify`) beside what the store
 * indexed at intake. Pure: each chunk is verified, missing or rejected with
 * the reasons; the session's own problems and gaps beside them.
 */

/** Consecutive chunks further apart than this leave a hole worth showing on the timeline. */
const HOLE_MS = 500;

type Check = Static<typeof ChunkCheck>;

export function visitCheck(visit: VisitView, audit: SessionAudit, now: number, keySource?: string): Static<typeof VisitCheck> {
  const records = new Map(audit.records.map((r) => [r.meta.index, r]));
  const listed = new Set((audit.manifest?.chunks ?? visit.manifest?.chunks ?? []).map((c) => c.meta.index));
  const indexed = new Map(visit.chunks.map((c) => [c.index, c]));
  const all = [...new Set([...records.keys(), ...listed, ...indexed.keys()])].sort((a, b) => a - b);
  const byIndex = new Map<number, string[]>();
  const session: string[] = [];
  for (const p of audit.problems) {
    if (p.index === undefined) session.push(p.problem);
    else byIndex.set(p.index, [...(byIndex.get(p.index) ?? []), p.problem]);
  }

  const chunks: Check[] = all.map((index) => {
    const r = records.get(index);
    const meta = r?.meta ?? (audit.manifest ?? visit.manifest)?.chunks.find((c) => c.meta.index === index)?.meta;
    const at = indexed.get(index);
    const c: Check = { index, state: 'verified' };
    if (meta !== undefined) Object.assign(c, { startTime: meta.startTime, endTime: meta.endTime, durationS: meta.durationS, bytes: meta.bytes });
    else if (at !== undefined) Object.assign(c, { startTime: at.startTime, endTime: at.endTime, bytes: at.bytes });
    if (r === undefined) {
      c.state = 'missing';
      c.reason = listed.has(index) ? 'listed in the signed manifest but not in the stored chain' : 'indexed at intake but not in the stored chain';
      return c;
    }
    if (!audit.present.has(index)) {
      c.state = 'missing';
      c.reason = (byIndex.get(index) ?? ['the file is missing']).join('; ');
      return c;
    }
    const reasons = [...(byIndex.get(index) ?? [])];
    if (at !== undefined && at.sha256 !== r.meta.sha256) reasons.push(`the stored chain's hash (${r.meta.sha256.slice(0, 12)}…) is not the one verified at intake (${at.sha256.slice(0, 12)}…)`);
    if (at !== undefined && !at.verified) reasons.push('it was not verified at intake');
    if (!audit.keyFound) reasons.push('no device public key: its signature cannot be checked');
    if (reasons.length > 0) {
      c.state = 'rejected';
      c.reason = reasons.join('; ');
    }
    return c;
  });

  const gaps: Array<{ from: number; to: number; reason: string }> = [...(audit.manifest?.gaps ?? visit.manifest?.gaps ?? [])].map((g) => ({ ...g }));
  const timed = chunks.filter((c) => c.startTime !== undefined && c.endTime !== undefined);
  for (let i = 1; i < timed.length; i++) {
    const a = timed[i - 1];
    const b = timed[i];
    const covered = gaps.some((g) => g.from <= a.endTime! + HOLE_MS && g.to >= b.startTime! - HOLE_MS);
    if (b.startTime! - a.endTime! > HOLE_MS && !covered) gaps.push({ from: a.endTime!, to: b.startTime!, reason: `no recording between chunk ${a.index} and chunk ${b.index}` });
  }
  gaps.sort((x, y) => x.from - y.from);

  const bad = chunks.some((c) => c.state !== 'verified');
  // A session still recording has no manifest yet: that alone makes it incomplete, not failed.
  const recording = audit.manifestAbsent && visit.state === 'recording';
  const other = session.length - (recording ? 1 : 0);
  const state = bad || other > 0 ? 'failed' : recording || chunks.length === 0 ? 'incomplete' : 'verified';
  return {
    deviceId: visit.deviceId,
    sessionId: visit.sessionId,
    checkedAt: now,
    state,
    ...(keySource !== undefined ? { keySource } : {}),
    problems: session,
    chunks,
    gaps,
    alarms: [...(audit.manifest?.alarms ?? visit.manifest?.alarms ?? [])],
  };
}
