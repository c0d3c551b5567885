import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_NAME_RE } from './capture-profiles.js';
import { probeMedia } from './probe.js';

export const QUARANTINE_DIR = 'quarantine';

/** What happened to one chunk file ffmpeg never listed (it died mid-chunk, or the agent died before reading the list). */
export type SalvageResult =
  | { outcome: 'salvaged'; file: string; path: string; durationS: number; bytes: number; mtimeMs: number }
  | { outcome: 'quarantined'; file: string; path: string; reason: string; bytes: number };

/**
 * Probes every chunk file in `dir` that is not in `knownFiles` (names, not
 * paths). A playable one is kept as is; an unplayable one is moved to
 * `dir/quarantine/` so it can neither be uploaded nor overwritten.
 */
export async function salvage(dir: string, knownFiles: Iterable<string>, ffprobePath: string): Promise<SalvageResult[]> {
  const known = new Set(knownFiles);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => CHUNK_NAME_RE.test(f) && !known.has(f)).sort();
  const results: SalvageResult[] = [];
  for (const file of names) {
    const path = join(dir, file);
    const st = await stat(path).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    const probe = st.size === 0 ? { ok: false as const, reason: `${file} is empty` } : await probeMedia(ffprobePath, path);
    if (probe.ok) {
      results.push({ outcome: 'salvaged', file, path, durationS: probe.durationS, bytes: st.size, mtimeMs: st.mtimeMs });
      continue;
    }
    const qdir = join(dir, QUARANTINE_DIR);
    await mkdir(qdir, { recursive: true });
    // Never overwrite an earlier quarantined file of the same name.
    let qpath = join(qdir, file);
    for (let n = 1; (await stat(qpath).catch(() => undefined)) !== undefined; n++) qpath = join(qdir, `${file}.${n}`);
    await rename(path, qpath);
    results.push({ outcome: 'quarantined', file, path: qpath, reason: probe.reason, bytes: st.size });
  }
  return results;
}
