import type { IPublishPacket, IPubackPacket } from 'mqtt-packet';
import type { SosState } from '../../../agent/button/sos-machine.js';
import { bulkClientId } from '../../../protocol/index.js';
import type { LoadedTrace } from './load-trace.js';

/*
 * What the agent had promised at a crash point, read from the trace alone
 * (docs/crash-safety.md, "What counts as promised"):
 * - published: every message it had published on its control connection (the
 *   outbox publishes only what it has committed), except the retained birth,
 *   which does not go through the outbox;
 * - chunks: every chunk record it had signed and published (its header on the
 *   bulk connection), or committed to sessions.db or uploads.db (the record's
 *   link written to the database's WAL and fsynced);
 * - commands: every request whose PUBACK it had written to the broker;
 * - sos: the SOS state it had saved (written to sos-state.dat and fsynced), and
 *   every alarm it had published.
 */

export interface PublishedMessage {
  line: number;
  stream: string;
  topic: string;
  /** The message body (for a location batch: one item). */
  body: { id: string; requestId?: string; alarmId?: string; state?: string; [k: string]: unknown };
}

export interface SignedChunk {
  line: number;
  link: string;
  sessionId?: string;
  index?: number;
  how: 'published' | 'committed';
}

export interface SosSave {
  line: number;
  /** The line by which it was durable (its fsync completed), undefined when it never was. */
  durableAt: number | undefined;
  gen: number;
  state: SosState;
}

export interface AgentHistory {
  published: PublishedMessage[];
  chunks: SignedChunk[];
  /** Request id → trace line of the PUBACK. */
  pubacks: Array<{ requestId: string; line: number }>;
  sosSaves: SosSave[];
  /** Header message id → chunk link (what the ingest's acknowledgement of a header names). */
  headerLinks: Map<string, string>;
}

const LINK_RE = /"link":"([0-9a-f]{64})"/g;

/** Reads the agent's promises out of a loaded trace. */
export function agentHistory(t: LoadedTrace, deviceId: string): AgentHistory {
  const published: PublishedMessage[] = [];
  const chunks: SignedChunk[] = [];
  const pubacks: Array<{ requestId: string; line: number }> = [];
  const headerLinks = new Map<string, string>();
  const bulkId = bulkClientId(deviceId);
  const waiting = new Map<string, string>(); // conn/messageId → request id
  for (const e of t.mqtt.events) {
    if (e.packet.cmd === 'publish') {
      const p = e.packet as IPublishPacket;
      const topic = String(p.topic);
      if (e.dir === 'in') {
        if (topic.endsWith('/cmd/req') && p.qos > 0) {
          const id = jsonOf(p.payload)?.id;
          if (typeof id === 'string') waiting.set(`${e.conn}/${p.messageId}`, id);
        }
        continue;
      }
      const parts = topic.split('/');
      const stream = parts[3];
      if (stream === 'status') continue;
      if (e.clientId === bulkId) {
        if (topic.endsWith('/media/chunk')) {
          const h = jsonOf(p.payload) as { id?: string; link?: string; meta?: { sessionId?: string; index?: number } } | undefined;
          if (h?.link !== undefined) {
            chunks.push({ line: e.line, link: h.link, sessionId: h.meta?.sessionId, index: h.meta?.index, how: 'published' });
            if (h.id !== undefined) headerLinks.set(h.id, h.link);
          }
        }
        continue;
      }
      const body = jsonOf(p.payload) as PublishedMessage['body'] & { items?: PublishedMessage['body'][] } | undefined;
      if (body === undefined) continue;
      for (const item of parts[4] === 'batch' ? body.items ?? [] : [body]) published.push({ line: e.line, stream, topic, body: item });
    } else if (e.packet.cmd === 'puback' && e.dir === 'out') {
      const key = `${e.conn}/${(e.packet as IPubackPacket).messageId}`;
      const id = waiting.get(key);
      if (id !== undefined) {
        waiting.delete(key);
        pubacks.push({ requestId: id, line: e.line });
      }
    }
  }
  const m = t.model;
  // Records committed to the restart store or the upload queue: their link in a WAL write.
  for (const name of ['sessions.db-wal', 'uploads.db-wal']) {
    for (const inode of m.inodes.filter((n) => inodeNames(t).get(n.id)?.has(name))) {
      const seen = new Set<string>();
      for (const op of inode.ops) {
        if (op.kind !== 'write') continue;
        const text = op.data.toString('latin1');
        for (const mm of text.matchAll(LINK_RE)) {
          if (seen.has(mm[1])) continue;
          // Committed once an fsync that started after this write has completed.
          const sync = inode.syncs.filter((s) => s.start > op.end).sort((a, b) => a.end - b.end)[0];
          if (sync === undefined) continue;
          seen.add(mm[1]);
          chunks.push({ line: sync.end, link: mm[1], how: 'committed' });
        }
      }
    }
  }
  const sosSaves: SosSave[] = [];
  for (const inode of m.inodes.filter((n) => inodeNames(t).get(n.id)?.has('sos-state.dat'))) {
    for (const op of inode.ops) {
      if (op.kind !== 'write') continue;
      const slot = parseSlot(op.data);
      if (slot === undefined) continue;
      const sync = inode.syncs.filter((s) => s.start > op.end).sort((a, b) => a.end - b.end)[0];
      sosSaves.push({ line: op.end, durableAt: sync?.end, ...slot });
    }
  }
  chunks.sort((a, b) => a.line - b.line);
  return { published, chunks, pubacks, sosSaves, headerLinks };
}

/** What was promised by line `at`. */
export function promisedBy(h: AgentHistory, at: number) {
  const durableSos = h.sosSaves.filter((s) => s.durableAt !== undefined && s.durableAt <= at).sort((a, b) => b.gen - a.gen)[0];
  return {
    published: h.published.filter((p) => p.line <= at),
    chunks: dedupe(h.chunks.filter((c) => c.line <= at)),
    pubacks: h.pubacks.filter((p) => p.line <= at),
    durableSos,
    /** States written by then with a generation at least that of the durable one: what a load may return. */
    sosCandidates: h.sosSaves.filter((s) => s.line <= at && s.gen >= (durableSos?.gen ?? 0)),
  };
}
export type Promised = ReturnType<typeof promisedBy>;

function dedupe(chunks: SignedChunk[]): SignedChunk[] {
  const by = new Map<string, SignedChunk>();
  for (const c of chunks) {
    const had = by.get(c.link);
    by.set(c.link, { ...c, ...(had ?? {}), sessionId: had?.sessionId ?? c.sessionId, index: had?.index ?? c.index });
  }
  return [...by.values()];
}

let namesCache: { t: LoadedTrace; names: Map<number, Set<string>> } | undefined;
/** Every name each inode ever had (snapshot entries, creations, renames). */
export function inodeNames(t: LoadedTrace): Map<number, Set<string>> {
  if (namesCache?.t === t) return namesCache.names;
  const names = new Map<number, Set<string>>();
  const add = (id: number, name: string) => {
    let s = names.get(id);
    if (s === undefined) names.set(id, (s = new Set()));
    s.add(name);
  };
  for (const e of t.model.baseEntries.values()) for (const [name, id] of e) add(id, name);
  for (const op of t.model.dirOps) {
    if (op.kind === 'link') add(op.inode, op.name);
    else if (op.kind === 'rename') add(op.inode, op.toName);
  }
  namesCache = { t, names };
  return names;
}

function jsonOf(payload: Buffer | string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(payload.toString()) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** An SOS slot as FileSosStore writes it (`{"gen":N,"state":{...},"sha256":...}` padded). */
function parseSlot(data: Buffer): { gen: number; state: SosState } | undefined {
  const o = jsonOf(data.toString('utf8').replace(/\0+$/, '').trimEnd());
  if (o === undefined || typeof o.gen !== 'number' || typeof o.state !== 'object') return undefined;
  return { gen: o.gen, state: o.state as SosState };
}

