import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

/*
 * A small POSIX tar (ustar) writer, gzip-compressed, for the evidence bundle:
 * regular files only, names longer than ustar holds go in a PAX `path`
 * record. Enough for `tar xzf` (GNU, BSD) and any tar library; no native
 * dependency.
 */

export interface TarEntry {
  /** Path inside the archive, `/`-separated, relative. */
  name: string;
  body: Buffer;
  /** Modification time, epoch ms. */
  mtime: number;
  mode?: number;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  // width - 1 digits and a NUL, as ustar readers expect.
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, mtime: number, mode: number, type: '0' | 'x'): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtime / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('nrec', 265, 'ascii');
  h.write('nrec', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** A PAX record `"<len> path=<name>\n"`, where len counts the whole record including itself. */
function paxPath(name: string): Buffer {
  const body = ` path=${name}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, 'utf8');
}

/** The tar blocks of one entry. */
export function tarEntry(e: TarEntry): Buffer[] {
  if (e.name === '' || e.name.startsWith('/') || e.name.split('/').includes('..')) throw new Error(`tar: "${e.name}" is not a relative path inside the archive`);
  const mode = e.mode ?? 0o644;
  const out: Buffer[] = [];
  let name = e.name;
  if (Buffer.byteLength(name) > 100) {
    const pax = paxPath(name);
    out.push(header('PaxHeader/entry', pax.length, e.mtime, 0o644, 'x'), pax, padding(pax.length));
    name = name.slice(-99).replace(/^[^/]*\//, '') || 'entry';
  }
  out.push(header(name, e.body.length, e.mtime, mode, '0'), e.body, padding(e.body.length));
  return out;
}

/** The archive's end: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/**
 * A gzip-compressed tar of the entries, produced as they come (each entry is
 * read by its producer before its header is written: the size goes first).
 */
export function tarGz(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Readable {
  async function* blocks(): AsyncGenerator<Buffer> {
    for await (const e of entries) yield* tarEntry(e);
    yield TAR_END;
  }
  const gz = createGzip();
  // A file that cannot be read ends the download with an error, never with a short archive that looks whole.
  pipeline(Readable.from(blocks()), gz, (err) => {
    if (err) gz.destroy(err);
  });
  return gz;
}
