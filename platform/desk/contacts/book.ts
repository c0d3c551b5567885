import type { ChannelKind } from '../types.js';

/*
 * The contacts file once loaded: checked, defaults applied, secrets read,
 * and each device's escalation found. Secrets live in `channels` and in
 * webhook targets only; `summary()` is what may be logged.
 */

export type Target =
  | { channel: 'webhook'; url: string; secret: string }
  | { channel: 'email'; to: string }
  | { channel: 'sms'; to: string }
  | { channel: 'console' };

export interface ResolvedContact {
  id: string;
  name: string;
  targets: Target[];
}

export interface ResolvedTier {
  /** Before the next tier is told (ms). */
  delayMs: number;
  contacts: ResolvedContact[];
}

export interface ResolvedEscalation {
  /** Where it came from: `device X`, `group G` or `default`. */
  source: string;
  tiers: ResolvedTier[];
  /** The current tier is told again this often until acknowledged (ms). */
  repeatMs: number;
}

export interface ChannelSettings {
  webhook: { timeoutMs: number; retries: number; backoffMs: number };
  email?: {
    host: string;
    port: number;
    secure: boolean;
    requireTLS: boolean;
    from: string;
    auth?: { user: string; pass: string };
    tls: { ca?: Buffer; rejectUnauthorized: boolean; servername?: string };
    timeoutMs: number;
  };
  sms?: {
    url: string;
    method: 'POST' | 'PUT' | 'GET';
    headers: Record<string, string>;
    body?: string;
    bodyFormat: 'json' | 'form' | 'text';
    credentials: Record<string, string>;
    timeoutMs: number;
    retries: number;
    backoffMs: number;
  };
}

export interface BookParts {
  file: string;
  /** SHA-256 of the file's text: a reload of the same text changes nothing. */
  hash: string;
  loadedAt: number;
  channels: ChannelSettings;
  acknowledge: { consoleUrl?: string; apiUrl?: string };
  contacts: Map<string, ResolvedContact>;
  defaultEscalation?: ResolvedEscalation;
  devices: Map<string, { name?: string; escalation?: ResolvedEscalation }>;
  /** Exact device ids of groups' `devices` lists. */
  exact: Map<string, ResolvedEscalation>;
  /** Prefix patterns (`ward3-*`, `*` = ''), longest first. */
  prefixes: Array<{ prefix: string; escalation: ResolvedEscalation }>;
  /** Worth a warning, not a refusal (a secret file others may read). */
  warnings: string[];
}

export class ContactBook {
  readonly #p: BookParts;

  constructor(p: BookParts) {
    this.#p = p;
  }

  get file(): string {
    return this.#p.file;
  }

  get hash(): string {
    return this.#p.hash;
  }

  get loadedAt(): number {
    return this.#p.loadedAt;
  }

  get channels(): ChannelSettings {
    return this.#p.channels;
  }

  get acknowledge(): { consoleUrl?: string; apiUrl?: string } {
    return this.#p.acknowledge;
  }

  get warnings(): readonly string[] {
    return this.#p.warnings;
  }

  /**
   * Who is told about this device's alarms: its own escalation, else its
   * group's (`devices.X.group`), else the group listing it (an exact id
   * before the longest matching prefix), else the default; undefined when the
   * file names none.
   */
  escalationFor(deviceId: string): ResolvedEscalation | undefined {
    const d = this.#p.devices.get(deviceId);
    if (d?.escalation !== undefined) return d.escalation;
    const exact = this.#p.exact.get(deviceId);
    if (exact !== undefined) return exact;
    for (const p of this.#p.prefixes) if (deviceId.startsWith(p.prefix)) return p.escalation;
    return this.#p.defaultEscalation;
  }

  /** Every device the file names a wearer for: id → name. */
  deviceNames(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, d] of this.#p.devices) if (d.name !== undefined) out.set(id, d.name);
    return out;
  }

  /** The wearer's name from the file, else the device id. */
  displayName(deviceId: string): string {
    return this.#p.devices.get(deviceId)?.name ?? deviceId;
  }

  /** What may be logged about it: counts and channel kinds, never an address or a secret. */
  summary(): Record<string, unknown> {
    const kinds = new Set<ChannelKind>();
    for (const c of this.#p.contacts.values()) for (const t of c.targets) kinds.add(t.channel);
    return {
      file: this.#p.file,
      contacts: this.#p.contacts.size,
      devices: this.#p.devices.size,
      groups: new Set([...this.#p.exact.values(), ...this.#p.prefixes.map((p) => p.escalation)].map((e) => e.source)).size,
      defaultEscalation: this.#p.defaultEscalation !== undefined,
      channels: [...kinds].sort(),
    };
  }
}
