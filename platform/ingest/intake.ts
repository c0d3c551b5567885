import { EventEmitter } from 'node:events';
import {
  isValidId,
  parseTopic,
  PLATFORM_STATUS_TOPIC,
  validatorForStream,
  validatorForSub,
  type DeviceStream,
  type LocationBatch,
} from '../../protocol/index.js';
import type { Logger } from '../../lib/logger.js';
import type { AcceptedMessage, IngestStore, RejectedInput, StoredEnvelope } from '../store/types.js';
import { Confirmer, type Confirmation } from './confirmer.js';
import type { MediaHandler, MediaOutcome } from './media-handler.js';
import type { InboundPublish } from './mqtt-intake.js';

export interface IntakeStats {
  devices: number;
  accepted: Record<string, number>;
  duplicates: number;
  rejected: number;
  rejectReasons: Record<string, number>;
}

export interface IntakeEvents {
  /** Committed to the store (first time only: a duplicate is not 'stored' again). */
  // The body's shape depends on the stream (an alarm, a location, …): listeners name the type they expect.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  stored: [deviceId: string, stream: DeviceStream | 'media', msg: any];
  rejected: [topic: string, reason: string];
  /** A device's presence changed (a stale will is not a change). */
  presence: [deviceId: string, state: string, bootId: string];
  /** Confirmations to publish to devices: everything in them is committed. */
  confirm: [Confirmation[]];
}

export interface IntakeOptions {
  store: IngestStore;
  media?: MediaHandler;
  logger: Logger;
  /** Largest JSON message accepted (default 1 MiB; a backfill batch of 500 locations is ~250 KiB). */
  maxMessageBytes?: number;
}

const PAYLOAD_KEPT = 512;

/**
 * What the ingest promises, in one place: a batch of publishes is validated,
 * committed to the store in one transaction, and only then is anything
 * acknowledged — the PUBACKs (by the caller, when this resolves) and the
 * end-to-end confirmations to the devices ('confirm'). Bad input is rejected
 * with a counted reason and recorded, never dropped silently, and never stops
 * the batch. A failed commit rejects the whole batch and acknowledges nothing;
 * the broker delivers it again.
 */
export class Intake extends EventEmitter<IntakeEvents> {
  readonly #o: IntakeOptions;
  readonly #max: number;
  readonly #stats: IntakeStats = { devices: 0, accepted: {}, duplicates: 0, rejected: 0, rejectReasons: {} };
  readonly #devices = new Set<string>();
  /** Latest birth bootId per device: a will from another boot is stale. */
  readonly #births = new Map<string, string>();

  constructor(o: IntakeOptions) {
    super();
    this.#o = o;
    this.#max = o.maxMessageBytes ?? 1024 * 1024;
  }

  get stats(): IntakeStats {
    return { ...this.#stats, devices: this.#devices.size, accepted: { ...this.#stats.accepted }, rejectReasons: { ...this.#stats.rejectReasons } };
  }

  /** Validates, commits and confirms one batch; resolves once it is committed (then the caller may PUBACK it). */
  async handleBatch(batch: readonly InboundPublish[]): Promise<void> {
    const rx = Date.now();
    const accepted: AcceptedMessage[] = [];
    const rejected: RejectedInput[] = [];
    const media: Array<{ deviceId: string; topic: string; sub?: string; outcome: MediaOutcome }> = [];
    const seen = new Set<string>();
    const reject = (topic: string, category: string, detail: string, payload: Buffer, deviceId?: string, msgId?: string) => {
      rejected.push({ rx, topic, category, detail, payload: payload.subarray(0, PAYLOAD_KEPT), ...(deviceId ? { deviceId } : {}), ...(msgId ? { msgId } : {}) });
    };
    const accept = (deviceId: string, stream: DeviceStream, topic: string, msg: StoredEnvelope) => {
      const key = `${deviceId}\u0000${msg.id}`;
      if (seen.has(key)) return void this.#stats.duplicates++; // twice in one batch: the store sees it once
      seen.add(key);
      accepted.push({ deviceId, stream, topic, rx, msg });
    };

    for (const p of batch) {
      // The platform's own presence matches nrec/v1/+/status: it is ours, not a device's.
      if (p.topic === PLATFORM_STATUS_TOPIC) continue;
      const t = parseTopic(p.topic);
      if (!t.ok) {
        reject(p.topic, 'bad-topic', t.reason, p.payload);
        continue;
      }
      if (t.direction !== 'device') continue; // never subscribed to; a broker may still send it
      if (t.stream === 'media') {
        if (this.#o.media === undefined) {
          reject(p.topic, 'unknown-channel', 'this ingest does not take evidence', p.payload, t.deviceId);
          continue;
        }
        media.push({ deviceId: t.deviceId, topic: p.topic, sub: t.sub, outcome: await this.#o.media.handle(t.deviceId, t.sub, p.payload) });
        continue;
      }
      if (p.payload.length > this.#max) {
        reject(p.topic, 'too-large', `${p.payload.length} bytes, over the ${this.#max}-byte limit`, p.payload, t.deviceId, salvageId(p.payload));
        continue;
      }
      if (t.stream === 'location' && t.sub === 'batch') {
        const r = validatorForSub('location', 'batch')!.parse(p.payload);
        if (!r.ok) {
          reject(p.topic, r.errors[0].includes('not JSON') ? 'not-json' : 'schema', r.errors.join('; '), p.payload, t.deviceId);
          continue;
        }
        const b = r.value as LocationBatch;
        const wrong = b.items.find((i) => i.deviceId !== t.deviceId);
        if (b.deviceId !== t.deviceId || wrong !== undefined) {
          reject(p.topic, 'device-mismatch', `batch for "${b.deviceId}" / item "${wrong?.deviceId ?? ''}" differs from topic device "${t.deviceId}"`, p.payload, t.deviceId);
          continue;
        }
        for (const item of b.items) accept(t.deviceId, 'location', p.topic, { ...item, backfill: true } as StoredEnvelope);
        continue;
      }
      const validator = t.sub === undefined ? validatorForStream(t.stream) : validatorForSub(t.stream, t.sub);
      if (validator === undefined) {
        reject(p.topic, 'unknown-channel', `no schema for ${t.stream}${t.sub ? `/${t.sub}` : ''}`, p.payload, t.deviceId, salvageId(p.payload));
        continue;
      }
      const r = validator.parse(p.payload);
      if (!r.ok) {
        reject(p.topic, r.errors[0].includes('not JSON') ? 'not-json' : 'schema', r.errors.join('; '), p.payload, t.deviceId, salvageId(p.payload));
        continue;
      }
      const msg = r.value as StoredEnvelope;
      if (msg.deviceId !== t.deviceId) {
        // Not confirmed to the topic's device either: the id is another device's.
        reject(p.topic, 'device-mismatch', `payload deviceId "${msg.deviceId}" differs from topic device "${t.deviceId}"`, p.payload, t.deviceId);
        continue;
      }
      accept(t.deviceId, t.stream, p.topic, msg);
    }
    for (const m of media) for (const reason of m.outcome.rejected) reject(m.topic, 'evidence', reason, m.sub === 'part' ? Buffer.alloc(0) : Buffer.alloc(0), m.deviceId);

    const { stored } = await this.#o.store.commit(accepted, rejected);

    // Committed: from here on everything may be acknowledged.
    const confirm = new Confirmer();
    accepted.forEach((a, i) => {
      this.#devices.add(a.deviceId);
      confirm.stored(a.deviceId, [a.msg.id]);
      if (!stored[i]) {
        this.#stats.duplicates++;
        return;
      }
      this.#stats.accepted[a.stream] = (this.#stats.accepted[a.stream] ?? 0) + 1;
      this.emit('stored', a.deviceId, a.stream, a.msg);
      if (a.stream === 'status') this.#presence(a.deviceId, a.msg as StoredEnvelope & { state?: string });
    });
    for (const r of rejected) {
      this.#stats.rejected++;
      this.#stats.rejectReasons[r.category] = (this.#stats.rejectReasons[r.category] ?? 0) + 1;
      this.#o.logger.warn({ topic: r.topic, reason: r.category, detail: r.detail }, 'rejected message');
      this.emit('rejected', r.topic, `${r.category}: ${r.detail}`);
      if (r.deviceId !== undefined && r.msgId !== undefined) confirm.rejected(r.deviceId, r.msgId, `${r.category}: ${r.detail}`);
    }
    // The evidence files are on disk: index them before confirming (a failure here fails the batch,
    // the broker redelivers, and the repeat is indexed again: indexing is idempotent).
    for (const m of media) await this.#index(m.outcome);
    for (const m of media) this.#media(confirm, m.deviceId, m.sub, m.outcome);
    const out = confirm.drain();
    if (out.length > 0) this.emit('confirm', out);
  }

  /** Records evidence on disk in the store's index; a manifest waiting for chunks is checked again when they come. */
  async #index(outcome: MediaOutcome): Promise<void> {
    const media = this.#o.media;
    if (media === undefined) return;
    const sessions = new Map<string, { deviceId: string; sessionId: string }>();
    for (const item of outcome.indexed) {
      const now = Date.now();
      if (item.kind === 'chunk') {
        await this.#o.store.recordChunk({ record: item.record, path: item.path, verified: true, storedAt: now });
        sessions.set(`${item.record.meta.deviceId}/${item.record.meta.sessionId}`, { deviceId: item.record.meta.deviceId, sessionId: item.record.meta.sessionId });
      } else {
        const state = await media.manifestState(item.manifest);
        await this.#o.store.recordManifest({ manifest: item.manifest, path: item.path, verification: state.verification, detail: state.detail, storedAt: now });
      }
    }
    for (const { deviceId, sessionId } of sessions.values()) {
      const visit = await this.#o.store.visit(deviceId, sessionId);
      if (visit?.manifest === undefined || visit.verification !== 'pending' || visit.manifestPath === undefined) continue;
      const state = await media.manifestState(visit.manifest);
      if (state.verification !== 'pending') await this.#o.store.recordManifest({ manifest: visit.manifest, path: visit.manifestPath, verification: state.verification, detail: state.detail, storedAt: Date.now() });
    }
  }

  /** Evidence the spool upkeep stored outside any batch (a crashed worker's chunks): index and confirm it too. */
  async mediaSettled(deviceId: string, outcome: MediaOutcome): Promise<void> {
    await this.#index(outcome);
    const confirm = new Confirmer();
    this.#media(confirm, deviceId, 'chunk', outcome);
    for (const reason of outcome.rejected) {
      this.#stats.rejected++;
      this.#stats.rejectReasons.evidence = (this.#stats.rejectReasons.evidence ?? 0) + 1;
      this.emit('rejected', `spool/${deviceId}`, `evidence: ${reason}`);
    }
    const out = confirm.drain();
    if (out.length > 0) this.emit('confirm', out);
  }

  #media(confirm: Confirmer, deviceId: string, sub: string | undefined, r: MediaOutcome): void {
    this.#devices.add(deviceId);
    if (r.stored > 0) {
      this.#stats.accepted.media = (this.#stats.accepted.media ?? 0) + r.stored;
      this.emit('stored', deviceId, 'media', { sub, acks: r.acks });
    }
    if (r.acks.length > 0) confirm.stored(deviceId, r.acks);
  }

  #presence(deviceId: string, msg: { bootId: string; state?: string }): void {
    if (msg.state === 'online') this.#births.set(deviceId, msg.bootId);
    else if (msg.state === 'offline' && this.#births.has(deviceId) && this.#births.get(deviceId) !== msg.bootId) {
      this.#o.logger.info({ deviceId, willBootId: msg.bootId, currentBootId: this.#births.get(deviceId) }, 'stale last will ignored: device is online with a newer boot');
      return;
    }
    this.emit('presence', deviceId, msg.state ?? 'unknown', msg.bootId);
  }
}

/**
 * The message id of a payload that failed validation, when one can be read (so the device can be
 * told not to send it again). Devices write the envelope first (`{"v":1,"id":"…"`), so the start of
 * an oversized payload is enough.
 */
function salvageId(payload: Buffer): string | undefined {
  const m = /^\{"v":1,"id":"([A-Za-z0-9_-]{1,64})"/.exec(payload.subarray(0, 128).toString('latin1'));
  if (m !== null) return m[1];
  if (payload.length > 64 * 1024) return undefined;
  try {
    const v = JSON.parse(payload.toString('utf8')) as { id?: unknown };
    return typeof v?.id === 'string' && isValidId(v.id) ? v.id : undefined;
  } catch {
    return undefined;
  }
}
