import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rename, unlink } from 'node:fs/promises';
import { get } from 'node:https';
import { rootCertificates } from 'node:tls';

export interface DownloadOptions {
  url: string;
  sha256: string;
  dest: string;
  maxBytes: number;
  /** Extra CA (PEM file) trusted besides the system's. */
  caFile?: string;
  timeoutMs?: number;
}

/**
 * Fetches a bundle over HTTPS into `dest`, hashing while it streams, and keeps
 * it only when its SHA-256 is the one the platform named: a wrong or truncated
 * download never becomes a file the updater could take.
 */
export async function downloadBundle(o: DownloadOptions): Promise<void> {
  const u = new URL(o.url);
  if (u.protocol !== 'https:') throw new Error(`update URL must be https:// (got ${u.protocol}//)`);
  const ca = o.caFile === undefined ? undefined : [...rootCertificates, await readFile(o.caFile, 'utf8')];
  const part = `${o.dest}.part`;
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const req = get(u, { ca, timeout: o.timeoutMs ?? 60_000 }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`download of ${u.origin}${u.pathname} answered HTTP ${res.statusCode ?? '?'}`));
          return;
        }
        const out = createWriteStream(part, { mode: 0o600 });
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes > o.maxBytes) {
            res.destroy(new Error(`bundle larger than update.maxBundleBytes (${o.maxBytes} bytes)`));
            return;
          }
          hash.update(c);
        });
        res.on('error', reject);
        out.on('error', reject);
        out.on('finish', resolve);
        res.pipe(out);
      });
      req.on('timeout', () => req.destroy(new Error(`download of ${u.origin}${u.pathname} timed out`)));
      req.on('error', reject);
    });
    const got = hash.digest('hex');
    if (got !== o.sha256.toLowerCase()) throw new Error(`downloaded bundle has SHA-256 ${got}, the command named ${o.sha256}: refusing it`);
    await rename(part, o.dest);
  } catch (err) {
    await unlink(part).catch(() => undefined);
    throw err;
  }
}
