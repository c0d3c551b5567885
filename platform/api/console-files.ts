import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/*
 * The operator console's static files (built by `npm run build` into
 * dist/console), served at /console/ without a token: they are the same code
 * as in the repository and hold no data; everything they show comes from the
 * API, which needs one. Loaded into memory at start (a few hundred KB) with
 * a gzip copy, an ETag, and headers that keep the page from being framed
 * (an Acknowledge button must not be clickjacked) and from loading anything
 * but itself, the API and map tiles.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

interface ConsoleFile {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
}

/** The repository's root (where package.json is), from this module's place in the source tree or in dist/. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return dirname(fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Where `npm run build` puts the console: <repo>/dist/console. */
export function defaultConsoleDir(): string {
  // From dist/platform/api or from platform/api in the sources, the root is the same.
  return join(projectRoot(), 'dist', 'console');
}

export class ConsoleFiles {
  readonly dir: string;
  readonly #files = new Map<string, ConsoleFile>();

  constructor(dir: string) {
    this.dir = dir;
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const type = TYPES[extname(name)];
      if (type === undefined || !statSync(path).isFile()) continue;
      const body = readFileSync(path);
      const compressible = !type.startsWith('image/png');
      this.#files.set(name, { type, body, gzip: compressible ? gzipSync(body, { level: 9 }) : undefined, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }

  get built(): boolean {
    return this.#files.has('index.html');
  }

  get(name: string): ConsoleFile | undefined {
    return this.#files.get(name);
  }
}

/** The Content-Security-Policy of the console: itself, the API, and images from the tile server. */
export function consolePolicy(tileUrl: string | undefined): string {
  const tiles = tileOrigin(tileUrl);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${tiles === undefined ? '' : ` ${tiles}`}`,
    "connect-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "font-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** The origin a tile URL template loads from, as a CSP source: {s} subdomains become a wildcard. */
export function tileOrigin(template: string | undefined): string | undefined {
  if (template === undefined) return undefined;
  const m = /^(https?):\/\/([^/?#]+)/i.exec(template);
  if (m === null) return undefined;
  const host = m[2].replace(/\{s\}/g, '*');
  if (/[{}]/.test(host)) return `${m[1].toLowerCase()}:`;
  return `${m[1].toLowerCase()}://${host}`;
}

/** GET /console/… : the built files, without a token. */
export function serveConsole(app: FastifyInstance, files: ConsoleFiles, tileUrl: string | undefined): void {
  const csp = consolePolicy(tileUrl);
  const send = (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const f = files.get(name);
    if (f === undefined) {
      const why = files.built ? `no console file "${name}"` : `the console is not built (no ${join(files.dir, 'index.html')}): run npm run build`;
      return reply.code(files.built ? 404 : 503).type('text/plain; charset=utf-8').send(`${why}\n`);
    }
    reply.header('cache-control', 'no-cache');
    reply.header('etag', f.etag);
    reply.header('vary', 'accept-encoding');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', csp);
    reply.type(f.type);
    if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
    const gz = f.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gz) reply.header('content-encoding', 'gzip');
    return reply.send(gz ? f.gzip : f.body);
  };
  const config = { public: true };
  app.get('/console', { config }, async (_req, reply) => reply.redirect('/console/', 301));
  app.get('/console/', { config }, async (req, reply) => send(req, reply, 'index.html'));
  app.get<{ Params: { file: string } }>('/console/:file', { config }, async (req, reply) => send(req, reply, req.params.file));
}
