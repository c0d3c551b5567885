import { EventEmitter } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';
import { allocPart, deviceTopic, partCount, type ChunkRecord } from '../../protocol/index.js';
import type { BulkPart, BulkSource } from '../transport/bulk-pump.js';
import type { Envelope } from '../transport/envelope.js';
import { resolvePartBytes, type PartBytesSetting } from '../transport/part-size.js';
import type { Logger } from '../../lib/logger.js';

export interface UploaderOptions {
  dbPath: string;
  envelope: Envelope;
  /** Fixed, or 'auto': chosen from the bulk rate when the chunk starts uploading (see autoPartBytes). */
  partBytes: PartBytesSetting;
  logger: Logger;
  /** All parts PUBACKed but no ingest acknowledgement after this long: send the chunk again (the ingest may have lost a partial assembly). */
  resendAfterMs?: number;
  now?: () => number;
}

interface Row {
  id: number;
  msg_id: string;
  path: string;
  header: string;
  parts: number;
  part_bytes: number;
  sent: string;
  sha256: string;
  session_id: string;
  idx: number;
  bytes: number;
  evidence: number;
  complete_at: number | null;
}

interface Pending {
  row: Row;
  sent: Uint8Array;
  inFlight: Set<number>;
  headerOut: boolean;
}

const HEADER_PART = -1;
/** part_bytes of a chunk whose part size is not chosen yet (nothing of it has been sent). */
const UNDECIDED = 0;

/**
 * Uploads evidence chunks as binary parts. Durable state (which chunk, which
 * parts the broker has acknowledged) lives in SQLite next to the outbox, so an
 * upload resumes after a reconnect or a restart with only the missing parts.
 * A chunk leaves the queue only when the ingest acknowledges its header id
 * (it has verified and stored the whole chunk); the caller then applies the
 * retention policy to the file. Implements BulkSource for the paced bulk pump.
 *
 * Each chunk's JSON header travels on the bulk connection just ahead of its
 * parts: after an ingest restart both are needed again, and this way one
 * resend brings both.
 */
export class ChunkUploader extends EventEmitter implements BulkSource {
  readonly #o: Required<UploaderOptions>;
  readonly #db: Database.Database;
  readonly #st;
  readonly #pending = new Map<number, Pending>();
  readonly #topicPart: string;
  readonly #topicHeader: string;
  readonly #dirty = new Set<Pending>();
  #flushTimer: NodeJS.Timeout | undefined;
  #fd: { path: string; fd: number } | undefined;
  readonly #writeProgress: (rows: Pending[]) => void;

  constructor(o: UploaderOptions) {
    super();
    this.#o = { resendAfterMs: 120_000, now: Date.now, ...o };
    this.#db = openSqlite(o.dbPath, { what: 'upload queue' });
    this.#db.exec(`CREATE TABLE IF NOT EXISTS chunks (
      id INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL UNIQUE, path TEXT NOT NULL, header TEXT NOT NULL,
      parts INTEGER NOT NULL, part_bytes INTEGER NOT NULL, sent TEXT NOT NULL, sha256 TEXT NOT NULL,
      session_id TEXT NOT NULL, idx INTEGER NOT NULL, bytes INTEGER NOT NULL, evidence INTEGER NOT NULL, complete_at INTEGER)`);
    this.#st = {
      insert: this.#db.prepare('INSERT INTO chunks (msg_id, path, header, parts, part_bytes, sent, sha256, session_id, idx, bytes, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      all: this.#db.prepare<[], Row>('SELECT * FROM chunks ORDER BY id'),
      sent: this.#db.prepare<[string, number | null, number]>('UPDATE chunks SET sent = ?, complete_at = ? WHERE id = ?'),
      byMsg: this.#db.prepare<[string], Row>('SELECT * FROM chunks WHERE msg_id = ?'),
      del: this.#db.prepare<[number]>('DELETE FROM chunks WHERE id = ?'),
      decide: this.#db.prepare<[string, number, number, string, number]>('UPDATE chunks SET header = ?, parts = ?, part_bytes = ?, sent = ? WHERE id = ?'),
    };
    this.#writeProgress = this.#db.transaction((rows: Pending[]) => {
      for (const p of rows) {
        if (this.#pending.has(p.row.id)) this.#st.sent.run(Array.from(p.sent, (b) => (b === 1 ? '1' : '0')).join(''), p.row.complete_at, p.row.id);
      }
    });
    const deviceId = o.envelope.deviceId;
    this.#topicPart = deviceTopic(deviceId, 'media', 'part');
    this.#topicHeader = deviceTopic(deviceId, 'media', 'chunk');
    for (const row of this.#st.all.all()) this.#track(row, true);
  }

  /**
   * `restarted`: the row comes from an earlier run. One whose parts the broker had all acknowledged
   * is sent again at once rather than after `resendAfterMs`: the broker is a relay that may have
   * lost them, and after a restart (a power cut) nothing says it has not, as for the outbox, whose
   * unconfirmed messages go out again at every start.
   */
  #track(row: Row, restarted = false): void {
    const sent = new Uint8Array(row.parts);
    if (!(restarted && row.complete_at !== null)) for (let i = 0; i < row.parts; i++) sent[i] = row.sent.charCodeAt(i) === 49 ? 1 : 0;
    const r = restarted ? { ...row, complete_at: null } : row;
    this.#pending.set(row.id, { row: r, sent, inFlight: new Set(), headerOut: false });
  }

  /**
   * Queues a committed chunk; durable when it returns. With a fixed part size the header is
   * final now; with 'auto' its partSize and partCount are filled in (once, durably) when the
   * chunk's first byte is about to be sent, from the bulk rate at that moment.
   */
  enqueue(record: ChunkRecord, path: string, evidence = true): string {
    const fixed = this.#o.partBytes === 'auto' ? UNDECIDED : this.#o.partBytes;
    const parts = fixed === UNDECIDED ? 0 : partCount(record.meta.bytes, fixed);
    const header = this.#o.envelope.make('media', { meta: record.meta, prevLink: record.prevLink, link: record.link, sig: record.sig, partCount: parts, partSize: fixed });
    const r = this.#st.insert.run(header.id, path, JSON.stringify(header), parts, fixed, '0'.repeat(parts), record.meta.sha256, record.meta.sessionId, record.meta.index, record.meta.bytes, evidence ? 1 : 0);
    const row = this.#st.byMsg.get(header.id)!;
    if (Number(r.lastInsertRowid) !== row.id) throw new Error('uploader: inconsistent insert');
    this.#track(row);
    this.emit('ready');
    return header.id;
  }

  /** Bytes not yet acknowledged by the ingest. */
  get pendingBytes(): number {
    let n = 0;
    for (const p of this.#pending.values()) n += p.row.bytes;
    return n;
  }

  get pendingChunks(): number {
    return this.#pending.size;
  }

  /** Paths of chunks still waiting for the ingest (never deleted by retention). */
  pendingPaths(): Set<string> {
    return new Set([...this.#pending.values()].map((p) => p.row.path));
  }

  /**
   * Fixes the part size of a chunk that has none yet. Written before the header goes out and
   * never changed afterwards, so the ingest never sees one chunk with two part sizes (not after
   * a reconnect, a restart or a full re-send either).
   */
  #decide(p: Pending, rateBps: number): void {
    const size = resolvePartBytes(this.#o.partBytes, rateBps);
    const parts = partCount(p.row.bytes, size);
    const header = JSON.parse(p.row.header) as { partCount: number; partSize: number };
    header.partCount = parts;
    header.partSize = size;
    const json = JSON.stringify(header);
    this.#st.decide.run(json, parts, size, '0'.repeat(parts), p.row.id);
    p.row = { ...p.row, header: json, parts, part_bytes: size, sent: '0'.repeat(parts) };
    p.sent = new Uint8Array(parts);
    this.#o.logger.debug({ chunk: p.row.msg_id, partBytes: size, parts, rateKbps: Math.round((rateBps * 8) / 1000) }, 'part size chosen');
  }

  /**
   * The platform is back after being away (or its broker restarted): every chunk it has not
   * confirmed goes again from its header, since the broker may have lost parts it acknowledged.
   */
  resendUnconfirmed(): number {
    let n = 0;
    for (const p of this.#pending.values()) {
      if (!p.headerOut && p.row.complete_at === null && !p.sent.includes(1)) continue; // nothing of it went out yet
      p.sent.fill(0);
      p.headerOut = false;
      this.#persist(p, null);
      n++;
    }
    if (n > 0) this.emit('ready');
    return n;
  }

  next(rateBps = 0): BulkPart | undefined {
    const now = this.#o.now();
    for (const p of this.#pending.values()) {
      if (p.row.part_bytes === UNDECIDED) this.#decide(p, rateBps);
      if (p.row.complete_at !== null) {
        if (now - p.row.complete_at < this.#o.resendAfterMs) continue;
        // The broker has every part but the ingest never confirmed: send it all again.
        this.#o.logger.warn({ chunk: p.row.msg_id }, 'no ingest acknowledgement; re-sending chunk');
        p.sent.fill(0);
        p.headerOut = false;
        this.#persist(p, null);
      }
      if (!p.headerOut) {
        p.headerOut = true;
        return { key: `${p.row.id}:${HEADER_PART}`, topic: this.#topicHeader, payload: Buffer.from(p.row.header) };
      }
      for (let i = 0; i < p.row.parts; i++) {
        if (p.sent[i] === 1 || p.inFlight.has(i)) continue;
        const payload = this.#readPart(p, i);
        if (payload === undefined) break;
        p.inFlight.add(i);
        return { key: `${p.row.id}:${i}`, topic: this.#topicPart, payload };
      }
    }
    return undefined;
  }

  #readPart(p: Pending, i: number): Buffer | undefined {
    const size = p.row.part_bytes;
    let fd: number;
    try {
      fd = this.#openChunk(p.row.path);
    } catch (err) {
      // The chunk file vanished (disk fault, manual deletion): nothing can ever complete it. Say so once and drop it.
      this.#o.logger.error({ path: p.row.path, err: (err as Error).message }, 'chunk file missing; upload abandoned');
      this.emit('lost', p.row.path, (err as Error).message);
      this.#st.del.run(p.row.id);
      this.#pending.delete(p.row.id);
      return undefined;
    }
    const length = Math.max(0, Math.min(size, p.row.bytes - i * size));
    const { frame, payload } = allocPart({ v: 1, deviceId: this.#o.envelope.deviceId, sessionId: p.row.session_id, chunkIndex: p.row.idx, part: i, parts: p.row.parts, chunkSha256: p.row.sha256 }, length);
    let off = 0;
    try {
      while (off < length) {
        const n = readSync(fd, payload, off, length - off, i * size + off);
        if (n === 0) break;
        off += n;
      }
    } catch (err) {
      this.#closeChunk();
      throw err;
    }
    // A file shorter than recorded (it cannot be: chunks are immutable once committed) would show at the ingest as a hash mismatch; send what there is.
    return off === length ? frame : frame.subarray(0, frame.length - (length - off));
  }

  /** The chunk being uploaded stays open between parts (one open/close per part was measurable in media-overhead). */
  #openChunk(path: string): number {
    if (this.#fd?.path === path) return this.#fd.fd;
    this.#closeChunk();
    const fd = openSync(path, 'r');
    this.#fd = { path, fd };
    return fd;
  }

  #closeChunk(): void {
    if (this.#fd !== undefined) closeSync(this.#fd.fd);
    this.#fd = undefined;
  }

  #find(part: BulkPart): { p: Pending; i: number } | undefined {
    const [id, i] = part.key.split(':').map(Number);
    const p = this.#pending.get(id);
    return p === undefined ? undefined : { p, i };
  }

  acked(part: BulkPart): void {
    const f = this.#find(part);
    if (f === undefined || f.i === HEADER_PART) return;
    f.p.inFlight.delete(f.i);
    if (f.p.sent[f.i] === 1) return;
    f.p.sent[f.i] = 1;
    const complete = f.p.sent.every((b) => b === 1);
    this.#persist(f.p, complete ? this.#o.now() : null);
  }

  requeue(part: BulkPart): void {
    const f = this.#find(part);
    if (f === undefined) return;
    if (f.i === HEADER_PART) f.p.headerOut = false;
    else f.p.inFlight.delete(f.i);
    this.emit('ready');
  }

  /**
   * Part progress is written in batches (at most every 500 ms, and at once when
   * a chunk completes): one fsync per PUBACK cost the agent ~0.7 s of CPU per
   * 20 s of 720p upload in media-overhead. Losing a batch to a power cut only
   * means re-sending those parts; the ingest deduplicates them.
   */
  #persist(p: Pending, completeAt: number | null): void {
    p.row.complete_at = completeAt;
    this.#dirty.add(p);
    if (completeAt !== null) return this.#flushProgress();
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.#flushProgress(), 500);
      this.#flushTimer.unref();
    }
  }

  #flushProgress(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    this.#writeProgress(dirty);
  }

  /** The ingest acknowledged these message ids; returns the paths of chunks now safely stored there. */
  onIngestAck(ids: readonly string[]): string[] {
    const done: string[] = [];
    for (const id of ids) {
      const row = this.#st.byMsg.get(id);
      if (row === undefined) continue;
      this.#st.del.run(row.id);
      this.#pending.delete(row.id);
      if (this.#fd?.path === row.path) this.#closeChunk();
      done.push(row.path);
    }
    return done;
  }

  close(): void {
    this.#closeChunk();
    this.#flushProgress();
    this.#db.close();
  }
}
