import type { DeviceStream } from '../../protocol/index.js';
import type { AcceptedMessage, CommitResult, IngestStore, RejectedInput, StoreCounts, StoredMessage } from './types.js';
import type { ChunkIndexInput, ManifestIndexInput, VisitView } from './views.js';

/**
 * The store contract in memory, for unit tests of the policy above it (the
 * intake's batching and acknowledgement): idempotent by (deviceId, id), and a
 * failure switch that makes commits fail as a database outage would — nothing
 * of a failed batch is stored. Not durable; the real back-ends are SQLite and
 * PostgreSQL.
 */
export class MemoryStore implements IngestStore {
  readonly backend = 'sqlite' as const;
  readonly #messages = new Map<string, AcceptedMessage>();
  readonly #order: string[] = [];
  readonly #rejected: RejectedInput[] = [];
  /** Set to an error to make every commit fail with it. */
  failWith: Error | undefined;
  commits = 0;

  async commit(accepted: AcceptedMessage[], rejected: RejectedInput[]): Promise<CommitResult> {
    if (this.failWith !== undefined) throw this.failWith;
    this.commits++;
    const stored = accepted.map((a) => {
      const key = `${a.deviceId}\u0000${a.msg.id}`;
      if (this.#messages.has(key)) return false;
      this.#messages.set(key, a);
      this.#order.push(key);
      return true;
    });
    this.#rejected.push(...rejected);
    return { stored };
  }

  async messages(deviceId: string, stream: DeviceStream): Promise<StoredMessage[]> {
    return this.#order.map((k) => this.#messages.get(k)!).filter((a) => a.deviceId === deviceId && a.stream === stream).map((a) => ({ rx: a.rx, topic: a.topic, m: a.msg }));
  }

  async rejected() {
    return this.#rejected.map((r) => ({ ...r, payload: r.payload.toString('utf8') }));
  }

  async counts(): Promise<StoreCounts> {
    const messages: Record<string, number> = {};
    const devices = new Set<string>();
    for (const a of this.#messages.values()) {
      messages[a.stream] = (messages[a.stream] ?? 0) + 1;
      devices.add(a.deviceId);
    }
    const rejectReasons: Record<string, number> = {};
    for (const r of this.#rejected) rejectReasons[r.category] = (rejectReasons[r.category] ?? 0) + 1;
    return { devices: devices.size, messages, rejected: this.#rejected.length, rejectReasons };
  }

  readonly chunks = new Map<string, ChunkIndexInput>();
  readonly manifests = new Map<string, ManifestIndexInput>();

  async recordChunk(c: ChunkIndexInput): Promise<boolean> {
    if (this.failWith !== undefined) throw this.failWith;
    const key = `${c.record.meta.deviceId}/${c.record.meta.sessionId}/${c.record.meta.index}`;
    if (this.chunks.has(key)) return false;
    this.chunks.set(key, c);
    return true;
  }

  async recordManifest(m: ManifestIndexInput): Promise<boolean> {
    if (this.failWith !== undefined) throw this.failWith;
    const key = `${m.manifest.deviceId}/${m.manifest.sessionId}`;
    const before = this.manifests.get(key);
    this.manifests.set(key, m);
    return before?.verification !== m.verification || before.manifest.lastLink !== m.manifest.lastLink;
  }

  async visit(deviceId: string, sessionId: string): Promise<VisitView | undefined> {
    const m = this.manifests.get(`${deviceId}/${sessionId}`);
    if (m === undefined) return undefined;
    return { verification: m.verification, manifest: m.manifest } as VisitView;
  }

  async close(): Promise<void> {
    // nothing held
  }
}
