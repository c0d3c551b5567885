import { deviceTopic, genesisLink, chainLink, type ChunkMeta, type ChunkRecord, type DeviceStream, type Fix, type Manifest } from '../../protocol/index.js';
import type { AcceptedMessage, RejectedInput, StoredEnvelope } from './types.js';
import type { ChunkIndexInput, ManifestIndexInput } from './views.js';

/*
 * Test messages shaped as the protocol has them (validated schemas, ids
 * `${bootId}-${stream}-${seq}` as devices make them), for the store suite.
 */

const SIG = `${'A'.repeat(86)}==`;
export const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

export class TestDevice {
  readonly id: string;
  bootId: string;
  readonly #seq = new Map<string, number>();

  constructor(id: string, bootId = `${id}-boot1`) {
    this.id = id;
    this.bootId = bootId;
  }

  /** A new boot: a new bootId, seqs from 0. */
  reboot(bootId: string): this {
    this.bootId = bootId;
    this.#seq.clear();
    return this;
  }

  msg(stream: DeviceStream, body: Record<string, unknown>, o: { rx?: number; sub?: string; ts?: number } = {}): AcceptedMessage {
    const seq = this.#seq.get(stream) ?? 0;
    this.#seq.set(stream, seq + 1);
    const ts = o.ts ?? T0 + seq * 1000;
    const msg: StoredEnvelope = { v: 1, id: `${this.bootId}-${stream.slice(0, 3)}-${seq}`, deviceId: this.id, bootId: this.bootId, seq, ts, ...body };
    return { deviceId: this.id, stream, topic: deviceTopic(this.id, stream, o.sub), rx: o.rx ?? ts + 50, msg };
  }

  status(state: 'online' | 'offline' | 'shutdown', o: { rx?: number; agentVersion?: string; reason?: string } = {}): AcceptedMessage {
    return this.msg('status', { state, ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}), ...(o.reason ? { reason: o.reason } : {}) }, o);
  }

  location(fix: Partial<Fix> & { time: number }, o: { rx?: number; backfill?: boolean; reason?: string } = {}): AcceptedMessage {
    const f: Fix = { lat: 52.52, lon: 13.405, fixType: '3d', ...fix };
    const m = this.msg('location', { fix: f, ...(o.reason ? { reason: o.reason } : {}), ...(o.backfill ? { backfill: true } : {}) }, { rx: o.rx, sub: o.backfill ? 'batch' : undefined });
    return m;
  }

  health(pct: number, o: { rx?: number } = {}): AcceptedMessage {
    return this.msg('health', {
      trigger: 'interval',
      battery: { pct, status: 'discharging' },
      storage: { freeBytes: 1e9, usedBytes: 1e6, quotaBytes: 5e8 },
      uptimeS: 100,
      clockSynced: true,
      queues: { alarm: { count: 0, bytes: 0 } },
      states: { gps: 'fix' },
    }, o);
  }

  event(kind: string, message: string, data?: Record<string, unknown>, o: { rx?: number } = {}): AcceptedMessage {
    return this.msg('event', { kind, severity: 'warning', message, ...(data ? { data } : {}) }, o);
  }

  alarm(alarmId: string, state: 'raised' | 'acknowledged' | 'cancelled' | 'resolved', escalation: number, o: { rx?: number; fix?: Fix; batteryPct?: number; raisedAt?: number } = {}): AcceptedMessage {
    return this.msg('alarm', {
      alarmId, state, trigger: 'button', raisedAt: o.raisedAt ?? T0, escalation,
      ...(o.fix ? { fix: o.fix } : {}), ...(o.batteryPct !== undefined ? { batteryPct: o.batteryPct } : {}),
    }, o);
  }

  result(requestId: string, status: 'ok' | 'error' | 'refused' | 'expired' | 'unknown', o: { rx?: number; result?: unknown; reason?: string } = {}): AcceptedMessage {
    return this.msg('result', { requestId, name: 'ping', status, ...(o.result !== undefined ? { result: o.result } : {}), ...(o.reason ? { reason: o.reason } : {}) }, o);
  }
}

export function rejectedInput(n: number, o: Partial<RejectedInput> = {}): RejectedInput {
  return { rx: T0 + n, topic: 'nrec/v1/dev-x/location', deviceId: 'dev-x', category: 'schema', detail: `field /fix/lat: must be <= 90 (${n})`, msgId: `bad-${n}`, payload: Buffer.from(`{"bad":${n}}`), ...o };
}

/** A signed-looking chain of chunk records for one session (links computed as devices do; signatures are placeholders: the store does not verify). */
export function chunkChain(deviceId: string, sessionId: string, count: number, start = T0): ChunkRecord[] {
  const out: ChunkRecord[] = [];
  let prev = genesisLink(deviceId, sessionId);
  for (let index = 0; index < count; index++) {
    const meta: ChunkMeta = {
      v: 1, deviceId, sessionId, index, startTime: start + index * 10_000, endTime: start + (index + 1) * 10_000, durationS: 10,
      codec: 'mpegts/h264/aac', bytes: 1000 + index, sha256: (index.toString(16).padStart(2, '0')).repeat(32), visitId: `visit-${sessionId}`,
    };
    const link = chainLink(prev, meta);
    out.push({ meta, prevLink: prev, link, sig: SIG });
    prev = link;
  }
  return out;
}

export function chunkInput(record: ChunkRecord, o: Partial<ChunkIndexInput> = {}): ChunkIndexInput {
  return { record, path: `/evidence/${record.meta.deviceId}/${record.meta.sessionId}/chunk-${String(record.meta.index).padStart(6, '0')}.ts`, verified: true, storedAt: record.meta.endTime + 500, ...o };
}

export function manifestFor(chain: ChunkRecord[], o: Partial<Manifest> = {}): Manifest {
  const first = chain[0].meta;
  return {
    v: 1, deviceId: first.deviceId, sessionId: first.sessionId, visitId: first.visitId, trigger: 'visit',
    startedAt: first.startTime, endedAt: chain[chain.length - 1].meta.endTime,
    chunks: chain.map((r) => ({ meta: r.meta, link: r.link, sig: r.sig })), gaps: [], alarms: [],
    lastLink: chain[chain.length - 1].link, sig: SIG, ...o,
  };
}

export function manifestInput(m: Manifest, o: Partial<ManifestIndexInput> = {}): ManifestIndexInput {
  return { manifest: m, path: `/evidence/${m.deviceId}/${m.sessionId}/manifest.json`, verification: 'verified', storedAt: m.endedAt + 1000, ...o };
}

/** A real Ed25519 public key in PEM (fixed, so tests compare it). */
export const DEVICE_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAF2UB2CcaGprrijQcnsrHKXCyRTbD41fRq/C7HggqCjY=
-----END PUBLIC KEY-----
`;
