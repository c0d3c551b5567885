import { mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** statfs f_type of file systems that live in memory: an fsync there costs nothing, so a durability figure would flatter. */
const MEMORY_FS: Record<number, string> = { 0x01021994: 'tmpfs', 0x858458f6: 'ramfs', 0x62656572: 'sysfs' };

export interface BenchDir {
  readonly path: string;
  /** File system type and the device it is on, as /proc/self/mountinfo names them ("ext4 on /dev/vda"). */
  readonly where: string;
  file(name: string): string;
  remove(): void;
}

/**
 * A fresh directory for a benchmark's databases, on a real disk: under
 * $BENCH_DIR when set, else the OS temp dir. Refuses a file system in memory
 * (tmpfs, ramfs), where fsync is free and a durable store looks faster than it
 * is on any device; prints where it is, so a figure says what it was taken on.
 */
export function benchDir(prefix: string): BenchDir {
  const base = resolve(process.env.BENCH_DIR ?? tmpdir());
  const where = realDisk(base, 'set BENCH_DIR to a directory on a real disk');
  const path = mkdtempSync(join(base, prefix));
  process.stderr.write(`${prefix.replace(/-$/, '')}: databases in ${path} (${where})\n`);
  return { path, where, file: (name) => join(path, name), remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What file system `path` is on ("ext4 on /dev/vda"); throws when it is one in memory. */
export function realDisk(path: string, hint: string): string {
  const type = statfsSync(path).type;
  if (MEMORY_FS[type] !== undefined) throw new Error(`${path} is on ${MEMORY_FS[type]} (in memory: fsync costs nothing there); ${hint}`);
  const mount = mountOf(resolve(path));
  return mount === undefined ? `file system type 0x${type.toString(16)}` : `${mount.fsType} on ${mount.source}`;
}

/** The mount a path is on: the longest mount point that is a prefix of it. */
function mountOf(path: string): { fsType: string; source: string } | undefined {
  let best: { point: string; fsType: string; source: string } | undefined;
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined; // not Linux
  }
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional fields] - fstype source super-options
    const [left, right] = line.split(' - ');
    if (right === undefined) continue;
    const point = left.split(' ')[4]?.replace(/\\040/g, ' ');
    const [fsType, source] = right.split(' ');
    if (point === undefined || !(path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`))) continue;
    if (best === undefined || point.length >= best.point.length) best = { point, fsType, source };
  }
  return best;
}
