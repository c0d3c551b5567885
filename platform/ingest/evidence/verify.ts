import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidId } from '../../../protocol/index.js';
import { chainLink, genesisLink, manifestDigest, manifestValidator, verifyDigestSignature, type ChunkRecord, type Manifest } from '../../../protocol/media.js';
import { CHAIN_FILE, chunkFileName, MANIFEST_FILE, readChainFile } from './evidence-store.js';
import type { KeyRing } from './keys.js';

/** One thing wrong in the store, named down to the chunk when it concerns one. */
export interface Problem {
  deviceId: string;
  sessionId: string;
  index?: number;
  problem: string;
}

export interface SessionSummary {
  deviceId: string;
  sessionId: string;
  chunks: number;
  manifest: boolean;
  problems: number;
}

export interface StoreReport {
  root: string;
  keys: string;
  sessions: SessionSummary[];
  problems: Problem[];
}

/**
 * Audits an evidence store offline: for every session, the chain from its
 * genesis (order, links, signatures), every chunk file against its signed
 * hash and size, files nobody listed, and the signed manifest against the
 * stored chain. Problems are collected, never thrown.
 */
export async function verifyStore(root: string, keys: KeyRing): Promise<StoreReport> {
  const report: StoreReport = { root, keys: keys.source, sessions: [], problems: [] };
  for (const deviceId of await subdirs(root)) {
    for (const sessionId of await subdirs(join(root, deviceId))) {
      const problems = await verifySession(join(root, deviceId, sessionId), deviceId, sessionId, keys);
      report.problems.push(...problems.list);
      report.sessions.push({ deviceId, sessionId, chunks: problems.chunks, manifest: problems.manifest, problems: problems.list.length });
    }
  }
  return report;
}

/** One session audited: the problems, and what was read (the chain, the manifest, which chunk files are there). */
export interface SessionAudit {
  problems: Problem[];
  /** The stored chain (empty when it could not be read). */
  records: ChunkRecord[];
  /** The manifest, when there is a valid one. */
  manifest?: Manifest;
  /** Indexes of the chain's chunks whose file exists. */
  present: Set<number>;
  /** A device key was there to check signatures with. */
  keyFound: boolean;
  /** No manifest file at all (a session still recording, or one whose manifest was removed): one of the problems. */
  manifestAbsent: boolean;
}

/**
 * Audits one session directory (`<root>/<deviceId>/<sessionId>`) as
 * verifyStore does, returning what it read beside the problems, so a caller
 * can say per chunk whether it is verified, missing or rejected.
 */
export async function auditSession(dir: string, deviceId: string, sessionId: string, keys: KeyRing): Promise<SessionAudit> {
  const list: Problem[] = [];
  const present = new Set<number>();
  const say = (problem: string, index?: number) => list.push(index === undefined ? { deviceId, sessionId, problem } : { deviceId, sessionId, index, problem });
  const pub = keys.get(deviceId);
  if (pub === undefined) say(`no registered public key for device ${deviceId} in ${keys.source}; signatures cannot be checked`);
  const chain = await readChainFile(join(dir, CHAIN_FILE));
  if (!chain.ok) {
    say(chain.reason);
    return { problems: list, records: [], present, keyFound: pub !== undefined, manifestAbsent: false };
  }
  const records = chain.records;
  let prev = genesisLink(deviceId, sessionId);
  for (const [pos, r] of records.entries()) {
    const m = r.meta;
    const at = m.index;
    if (m.deviceId !== deviceId || m.sessionId !== sessionId) say(`chain line ${pos + 1} is a chunk of ${m.deviceId}/${m.sessionId} (moved in from another session)`, at);
    if (m.index !== pos) say(`chain line ${pos + 1} holds chunk ${m.index}, expected ${pos} (chunks removed or reordered)`, at);
    if (r.prevLink !== prev) say(`prevLink does not continue the chain from ${pos === 0 ? 'the session genesis' : `chunk ${records[pos - 1].meta.index}`}`, at);
    if (r.link !== chainLink(r.prevLink, m)) say('link is not H(prevLink ‖ meta): the metadata was altered', at);
    if (pub !== undefined && !verifyDigestSignature(r.link, r.sig, pub)) say(`signature does not verify with the device key (${keys.source})`, at);
    if (await checkChunkFile(join(dir, chunkFileName(m.index)), r, (p) => say(p, at))) present.add(m.index);
    prev = r.link; // continue from what is stored, so one bad chunk is named once, not as a cascade
  }
  const listed = new Set(records.map((r) => chunkFileName(r.meta.index)));
  // A session directory that is gone altogether (the API audits what the store indexed) has nothing unlisted.
  for (const f of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (/^chunk-\d+\.ts$/.test(f) && !listed.has(f)) say(`${f} is stored but not in the chain`);
  }
  const manifest = await readManifest(join(dir, MANIFEST_FILE));
  if (manifest === undefined) {
    say('no manifest: the session was never closed, or its manifest was removed');
    return { problems: list, records, present, keyFound: pub !== undefined, manifestAbsent: true };
  }
  if (typeof manifest === 'string') {
    say(manifest);
    return { problems: list, records, present, keyFound: pub !== undefined, manifestAbsent: false };
  }
  checkManifest(manifest, records, deviceId, sessionId, pub === undefined ? undefined : (d, s) => verifyDigestSignature(d, s, pub), say);
  return { problems: list, records, manifest, present, keyFound: pub !== undefined, manifestAbsent: false };
}

async function verifySession(dir: string, deviceId: string, sessionId: string, keys: KeyRing): Promise<{ list: Problem[]; chunks: number; manifest: boolean }> {
  const a = await auditSession(dir, deviceId, sessionId, keys);
  return { list: a.problems, chunks: a.records.length, manifest: a.manifest !== undefined };
}

/** Checks a chunk file against its signed meta; false when the file is not there. */
async function checkChunkFile(path: string, r: ChunkRecord, say: (p: string) => void): Promise<boolean> {
  const name = chunkFileName(r.meta.index);
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) {
    say(`${name} is missing`);
    return false;
  }
  if (st.size !== r.meta.bytes) say(`${name} has ${st.size} bytes, the signed meta says ${r.meta.bytes}`);
  const sha = await sha256File(path);
  if (sha !== r.meta.sha256) say(`sha256 of ${name} (${sha.slice(0, 12)}…) differs from the signed meta (${r.meta.sha256.slice(0, 12)}…): the file was altered or replaced`);
  return true;
}

function checkManifest(
  m: Manifest,
  records: ChunkRecord[],
  deviceId: string,
  sessionId: string,
  verifySig: ((digest: Buffer, sig: string) => boolean) | undefined,
  say: (p: string, index?: number) => void,
): void {
  if (m.deviceId !== deviceId || m.sessionId !== sessionId) say(`manifest belongs to ${m.deviceId}/${m.sessionId}`);
  if (verifySig !== undefined && !verifySig(manifestDigest(m), m.sig)) say('manifest signature does not verify with the device key');
  const stored = new Map(records.map((r) => [r.meta.index, r]));
  const listed = new Set<number>();
  for (const c of m.chunks) {
    listed.add(c.meta.index);
    const r = stored.get(c.meta.index);
    if (r === undefined) say(`manifest lists chunk ${c.meta.index} but it is not stored`, c.meta.index);
    else if (r.link !== c.link) say(`stored chunk differs from the one the manifest lists (link ${r.link.slice(0, 12)}… vs ${c.link.slice(0, 12)}…)`, c.meta.index);
  }
  for (const r of records) if (!listed.has(r.meta.index)) say('stored chunk is not in the manifest', r.meta.index);
  const lastLink = records.at(-1)?.link ?? genesisLink(deviceId, sessionId);
  if (m.lastLink !== lastLink) say(`manifest lastLink ${m.lastLink.slice(0, 12)}… is not the stored chain's last link ${lastLink.slice(0, 12)}…`);
}

async function readManifest(path: string): Promise<Manifest | string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const v = manifestValidator.parse(text);
  return v.ok ? v.value : `manifest is not valid: ${v.errors.join('; ')}`;
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && isValidId(e.name)).map((e) => e.name).sort();
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const block of createReadStream(path, { highWaterMark: 256 * 1024 })) h.update(block as Buffer);
  return h.digest('hex');
}

/** A readable report: one line per session, then every problem by device/session/chunk. */
export function formatReport(r: StoreReport): string {
  const lines = [`evidence store ${r.root}`, `keys: ${r.keys}`];
  for (const s of r.sessions) {
    const state = s.problems === 0 ? 'OK' : `${s.problems} problem${s.problems === 1 ? '' : 's'}`;
    lines.push(`  ${s.deviceId}/${s.sessionId}: ${s.chunks} chunk${s.chunks === 1 ? '' : 's'}, ${s.manifest ? 'manifest' : 'no manifest'} — ${state}`);
  }
  for (const p of r.problems) lines.push(`PROBLEM ${p.deviceId}/${p.sessionId}${p.index === undefined ? '' : ` chunk ${p.index}`}: ${p.problem}`);
  const bad = r.sessions.filter((s) => s.problems > 0).length;
  // An audit that found nothing to check has not shown anything to be sound: say so, never "no problems".
  if (r.sessions.length === 0) lines.push(`NOTHING CHECKED: no evidence sessions under ${r.root}`);
  else lines.push(r.problems.length === 0 ? `verified ${r.sessions.length} session(s): no problems` : `FAILED: ${r.problems.length} problem(s) in ${bad} of ${r.sessions.length} session(s)`);
  return `${lines.join('\n')}\n`;
}
