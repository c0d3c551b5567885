import { randomBytes } from 'node:crypto';
import type { CommandResult, DeviceStream } from '../../protocol/index.js';
import type { CommandSenderApi, SentCommand } from '../desk/types.js';
import type { PlatformStore, StoredEnvelope } from '../store/index.js';

/*
 * INTERIM, until the durable command sender (platform/commands, branch
 * desk) is merged: it publishes through the ingest and matches the device's
 * result, but keeps what it sent in memory only (a restart forgets pending
 * commands, and nothing re-publishes a command the broker lost). The
 * results themselves are in the store either way. Replaced in one place:
 * platform/services.ts.
 */

export interface CommandIngest {
  sendCommand(deviceId: string, name: string, args?: Record<string, unknown>, ttlMs?: number, id?: string): Promise<string>;
  on(event: 'stored', listener: (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => void): unknown;
  off(event: 'stored', listener: (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => void): unknown;
}

const KEEP = 10_000;
const DEFAULT_TTL_MS = 60_000;
/** How long send() waits for the broker to take the command. */
const PUBLISH_WAIT_MS = 3000;

export class InterimCommandSender implements CommandSenderApi {
  readonly #ingest: CommandIngest;
  readonly #store: PlatformStore;
  readonly #now: () => number;
  readonly #sent = new Map<string, SentCommand>();
  readonly #waiting = new Map<string, Set<(c: SentCommand | undefined) => void>>();
  readonly #onStored = (deviceId: string, stream: DeviceStream | 'media', msg: StoredEnvelope) => {
    if (stream !== 'result') return;
    const r = msg as unknown as CommandResult;
    const c = this.#sent.get(r.requestId);
    if (c === undefined || c.deviceId !== deviceId) return;
    this.#answer(c, r.status as SentCommand['status'], r.reason, r.result, this.#now());
  };

  constructor(ingest: CommandIngest, store: PlatformStore, now: () => number = Date.now) {
    this.#ingest = ingest;
    this.#store = store;
    this.#now = now;
    ingest.on('stored', this.#onStored);
  }

  async send(deviceId: string, name: string, args: Record<string, unknown> = {}, opts: { by?: string; ttlMs?: number; requestId?: string } = {}): Promise<SentCommand> {
    const sentAt = this.#now();
    const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    const requestId = opts.requestId ?? `p-${randomBytes(9).toString('base64url')}`;
    const c: SentCommand = { requestId, deviceId, name, args, sentAt, expiresAt: sentAt + ttlMs, status: 'pending' };
    if (opts.by !== undefined) c.by = opts.by;
    // Recorded before it is published: a fast device's answer finds it.
    this.#sent.set(requestId, c);
    if (this.#sent.size > KEEP) this.#sent.delete(this.#sent.keys().next().value!);
    // The publish resolves on the broker's PUBACK; with the broker away it waits for the reconnection (and
    // goes out then), so the caller is not kept waiting for it beyond a moment.
    let failed: Error | undefined;
    const published = this.#ingest.sendCommand(deviceId, name, args, ttlMs, requestId).then(
      () => true,
      (err: Error) => {
        failed = err;
        if (c.status === 'pending') this.#answer(c, 'error', `not published: ${err.message}`, undefined, this.#now());
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([published, new Promise((r) => { timer = setTimeout(r, PUBLISH_WAIT_MS); })]);
    clearTimeout(timer);
    if (failed !== undefined) {
      this.#sent.delete(requestId);
      throw new Error(`could not publish ${name} to ${deviceId}: ${(failed as Error).message}`, { cause: failed });
    }
    return { ...c };
  }

  async get(requestId: string): Promise<SentCommand | undefined> {
    const c = this.#sent.get(requestId);
    if (c === undefined) return undefined;
    if (c.status === 'pending') {
      // Another ingest worker may have stored the answer.
      const r = (await this.#store.results(requestId)).find((x) => x.deviceId === c.deviceId);
      if (r !== undefined) this.#answer(c, r.status, r.reason, r.result, r.rx);
      else if (this.#now() > c.expiresAt) return { ...c, status: 'expired', reason: 'no answer before it expired (the device was away, or did not get it)' };
    }
    return { ...c };
  }

  async list(deviceId: string, opts: { limit?: number } = {}): Promise<SentCommand[]> {
    const mine = [...this.#sent.values()].filter((c) => c.deviceId === deviceId).reverse().slice(0, opts.limit ?? 100);
    return Promise.all(mine.map(async (c) => (await this.get(c.requestId)) ?? c));
  }

  async waitForResult(requestId: string, timeoutMs: number): Promise<SentCommand | undefined> {
    const now = await this.get(requestId);
    if (now === undefined) return undefined;
    if (now.status !== 'pending') return now;
    return new Promise((resolve) => {
      const set = this.#waiting.get(requestId) ?? new Set();
      this.#waiting.set(requestId, set);
      const done = (c: SentCommand | undefined) => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.#waiting.delete(requestId);
        resolve(c);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      set.add(done);
    });
  }

  close(): void {
    this.#ingest.off('stored', this.#onStored);
    for (const set of this.#waiting.values()) for (const w of set) w(undefined);
  }

  #answer(c: SentCommand, status: SentCommand['status'], reason: string | undefined, result: unknown, at: number): void {
    c.status = status;
    c.answeredAt = at;
    if (reason !== undefined) c.reason = reason;
    if (result !== undefined) c.result = result;
    for (const w of this.#waiting.get(c.requestId) ?? []) w({ ...c });
  }
}
