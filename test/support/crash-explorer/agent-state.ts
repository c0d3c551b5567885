import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../lib/logger.js';
import { openSqlite } from '../../../lib/sqlite.js';
import { FileSosStore } from '../../../agent/button/sos-store.js';
import type { SosState } from '../../../agent/button/sos-machine.js';
import { CommandRegistry } from '../../../agent/commands/command-registry.js';
import { EvidenceSession } from '../../../agent/media/evidence.js';
import { hashFile } from '../../../agent/media/file-hash.js';
import { SessionStore } from '../../../agent/media/session-store.js';
import { ChunkUploader } from '../../../agent/media/uploader.js';
import { Envelope } from '../../../agent/transport/envelope.js';
import { LANES, Outbox } from '../../../agent/transport/outbox.js';
import type { ChunkRecord } from '../../../protocol/media.js';
import type { Promised } from './agent-promises.js';

/*
 * The fast check of one crash state: what the agent finds when it starts on
 * it, read with the agent's own code (the outbox, the command registry, the
 * SOS store, the restart store and its chain resumption, the upload queue),
 * checked against what the agent had promised by the crash point.
 */

export interface AgentStateView {
  outbox: Array<{ msgId: string; lane: string; topic: string; body: Record<string, unknown> }>;
  unanswered: string[];
  sos: { state?: SosState; error?: string };
  records: Array<{ record: ChunkRecord; path: string; sessionId: string }>;
  uploads: Array<{ msgId: string; path: string; link: string; sha256: string; bytes: number }>;
  /** SHA-256 and size of each chunk file a record or upload names (undefined when missing). */
  files: Map<string, { sha256: string; bytes: number } | undefined>;
  /** What would keep the agent from using the state (a database it cannot open, a chain it cannot resume). */
  faults: string[];
}

/** What the platform had by the crash point (its store is not affected by the device's power cut). */
export interface PlatformAt {
  /** Message ids stored (every stream, and evidence acknowledgements: chunk header and manifest message ids). */
  ids: Set<string>;
  /** Request ids of stored command results. */
  requestIds: Set<string>;
  /** Links of stored chunks. */
  links: Set<string>;
}

function tryOr<T>(faults: string[], what: string, f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    faults.push(`${what}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Reads a crash state of the agent's data directory as the agent would at start-up. */
export async function readAgentState(dataDir: string, deviceId: string, logger: Logger): Promise<AgentStateView> {
  const faults: string[] = [];
  const outbox: AgentStateView['outbox'] = [];
  tryOr(faults, 'outbox', () => {
    const ob = Outbox.open(join(dataDir, 'outbox.db'));
    try {
      for (const lane of LANES) {
        for (const e of ob.take(lane, Number.MAX_SAFE_INTEGER)) {
          outbox.push({ msgId: e.msgId, lane, topic: e.topic, body: JSON.parse(e.payload.toString()) as Record<string, unknown> });
        }
      }
    } finally {
      ob.close();
    }
  });
  const unanswered = tryOr(faults, 'commands', () => {
    const reg = new CommandRegistry(join(dataDir, 'commands.db'), deviceId, logger);
    try {
      return reg.unanswered().map((u) => u.requestId);
    } finally {
      reg.close();
    }
  }) ?? [];
  const sos: AgentStateView['sos'] = {};
  try {
    const store = new FileSosStore(join(dataDir, 'sos-state.dat'), join(dataDir, 'sos-state.json'));
    sos.state = store.load();
    store.close();
  } catch (err) {
    sos.error = (err as Error).message;
  }
  const records: AgentStateView['records'] = [];
  if (existsSync(join(dataDir, 'sessions.db'))) {
    tryOr(faults, 'sessions', () => {
      const store = new SessionStore(join(dataDir, 'sessions.db'));
      try {
        const key = createPrivateKey(readFileSync(join(dataDir, 'keys', 'device-key.pem')));
        for (const s of store.load()) {
          const st = s.state;
          // What MediaService.restore does: a session whose chain does not resume is dropped there.
          EvidenceSession.resume({ deviceId, sessionId: st.sessionId, trigger: st.trigger, startedAt: st.startedAt, codec: 'mpegts', privateKey: key }, s.records.map((r) => r.record), s.gaps, st.alarms);
          for (const r of s.records) records.push({ ...r, sessionId: st.sessionId });
        }
      } finally {
        store.close();
      }
    });
  }
  const uploads: AgentStateView['uploads'] = [];
  if (existsSync(join(dataDir, 'uploads.db'))) {
    tryOr(faults, 'uploads', () => {
      const up = new ChunkUploader({ dbPath: join(dataDir, 'uploads.db'), envelope: new Envelope(deviceId), partBytes: 'auto', logger });
      const paths = up.pendingPaths();
      up.close();
      const db = openSqlite(join(dataDir, 'uploads.db'), { readonly: true, what: 'upload queue' });
      try {
        for (const r of db.prepare<[], { msg_id: string; path: string; header: string; sha256: string; bytes: number }>('SELECT msg_id, path, header, sha256, bytes FROM chunks ORDER BY id').all()) {
          if (!paths.has(r.path)) continue;
          uploads.push({ msgId: r.msg_id, path: r.path, link: (JSON.parse(r.header) as { link: string }).link, sha256: r.sha256, bytes: r.bytes });
        }
      } finally {
        db.close();
      }
    });
  }
  const files = new Map<string, { sha256: string; bytes: number } | undefined>();
  for (const p of new Set([...records.map((r) => r.path), ...uploads.map((u) => u.path)])) {
    files.set(p, existsSync(p) ? await hashFile(p) : undefined);
  }
  return { outbox, unanswered, sos, records, uploads, files, faults };
}

/** What a crash state loses of what was promised: one line per problem, empty when nothing. */
export function lostInState(p: Promised, platform: PlatformAt, v: AgentStateView): string[] {
  const problems = [...v.faults];
  const outboxIds = new Set(v.outbox.map((o) => o.msgId));
  for (const m of p.published) {
    if (!platform.ids.has(m.body.id) && !outboxIds.has(m.body.id)) problems.push(`published ${m.stream} message ${m.body.id} (line ${m.line + 1}) is neither at the platform nor in the outbox`);
  }
  const answers = new Set([...v.unanswered, ...v.outbox.filter((o) => o.lane === 'result').map((o) => String(o.body.requestId))]);
  for (const c of p.pubacks) {
    if (!platform.requestIds.has(c.requestId) && !answers.has(c.requestId)) problems.push(`command ${c.requestId} PUBACKed at line ${c.line + 1} is neither answered at the platform, nor answered in the outbox, nor recorded as received`);
  }
  if (v.sos.error !== undefined) problems.push(`SOS state unreadable: ${v.sos.error}`);
  if (p.durableSos !== undefined) {
    const loaded = JSON.stringify(v.sos.state ?? null);
    if (!p.sosCandidates.some((s) => JSON.stringify(s.state) === loaded)) {
      problems.push(`SOS state ${loaded} is not the state saved durably (generation ${p.durableSos.gen}: ${JSON.stringify(p.durableSos.state)}) nor a later one`);
    }
  }
  const lastAlarm = p.published.filter((m) => m.stream === 'alarm' && typeof m.body.alarmId === 'string').at(-1);
  if (lastAlarm !== undefined && (v.sos.state === undefined || v.sos.state.phase === 'idle')) {
    problems.push(`alarm ${lastAlarm.body.alarmId} was published (line ${lastAlarm.line + 1}) but the SOS state is ${JSON.stringify(v.sos.state ?? null)}`);
  }
  const intact = (path: string, sha256: string) => v.files.get(path)?.sha256 === sha256;
  const held = new Set<string>();
  for (const r of v.records) {
    const f = v.files.get(r.path);
    if (f !== undefined && f.sha256 !== r.record.meta.sha256) problems.push(`record ${r.sessionId}/${r.record.meta.index} points at a torn file ${r.path} (${f.bytes} bytes, ${r.record.meta.bytes} signed)`);
    else if (f === undefined && !platform.links.has(r.record.link)) problems.push(`record ${r.sessionId}/${r.record.meta.index}: its file ${r.path} is gone and the platform does not have it`);
    if (intact(r.path, r.record.meta.sha256)) held.add(r.record.link);
  }
  for (const u of v.uploads) {
    const f = v.files.get(u.path);
    if (f !== undefined && f.sha256 !== u.sha256) problems.push(`upload ${u.msgId} points at a torn file ${u.path}`);
    else if (f === undefined && !platform.links.has(u.link)) problems.push(`upload ${u.msgId}: its file ${u.path} is gone and the platform does not have it`);
    if (intact(u.path, u.sha256)) held.add(u.link);
  }
  for (const c of p.chunks) {
    if (!platform.links.has(c.link) && !held.has(c.link)) problems.push(`chunk ${c.sessionId ?? '?'}/${c.index ?? '?'} (${c.how} at line ${c.line + 1}, link ${c.link.slice(0, 12)}…) is neither at the platform nor held intact by the device`);
  }
  return problems;
}
