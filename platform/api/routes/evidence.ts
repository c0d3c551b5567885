import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROUTES } from '../../../protocol/api.js';
import { auditSession, CHAIN_FILE, chunkFileName, keyRingFromMap, MANIFEST_FILE, parsePem } from '../../ingest/evidence/index.js';
import type { VisitView } from '../../store/index.js';
import { visitCheck } from '../evidence-check.js';
import { ApiError, notFound, route, type ApiContext } from '../route-kit.js';
import { tarGz, type TarEntry } from '../tar.js';

/*
 * A visit's evidence: audited file by file now, one chunk's bytes for
 * playback (only while they match the hash the device signed), and the
 * bundle `nrec verify` audits offline.
 */

type VisitParams = Static<typeof ROUTES.visitCheck.params>;

/** The device's public key: the file the ingest verifies against (<store>/keys), else the one registered in the store. */
async function deviceKey(ctx: ApiContext, deviceId: string): Promise<{ pem: string; source: string } | undefined> {
  if (ctx.keysDir !== undefined) {
    for (const f of [`${deviceId}.pem`, `${deviceId}.pub.pem`]) {
      const pem = await readFile(join(ctx.keysDir, f), 'utf8').catch(() => undefined);
      if (pem !== undefined && !pem.includes('PRIVATE KEY')) return { pem, source: join(ctx.keysDir, f) };
    }
  }
  const pem = await ctx.store.deviceKey(deviceId);
  return pem === undefined ? undefined : { pem, source: 'the platform store' };
}

async function visitOf(ctx: ApiContext, p: VisitParams): Promise<{ visit: VisitView; dir: string }> {
  const visit = await ctx.store.visit(p.deviceId, p.sessionId);
  if (visit === undefined) throw notFound(`no visit (recording session) "${p.sessionId}" of device "${p.deviceId}"`);
  const anyFile = visit.chunks[0]?.path ?? visit.manifestPath;
  if (anyFile === undefined) throw notFound(`visit "${p.sessionId}" of device "${p.deviceId}" has no stored files`);
  return { visit, dir: dirname(anyFile) };
}

export function evidenceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ROUTES.visitCheck, async (req) => {
    const p = req.params as VisitParams;
    const { visit, dir } = await visitOf(ctx, p);
    const key = await deviceKey(ctx, p.deviceId);
    let ring = keyRingFromMap(new Map(), 'no key registered for this device');
    if (key !== undefined) {
      try {
        ring = keyRingFromMap(new Map([[p.deviceId, parsePem(key.source, key.pem)]]), key.source);
      } catch (err) {
        ring = keyRingFromMap(new Map(), (err as Error).message);
      }
    }
    const audit = await auditSession(dir, p.deviceId, p.sessionId, ring);
    return visitCheck(visit, audit, ctx.now(), ring.source);
  });

  route(app, ROUTES.chunk, async (req, reply) => {
    const p = req.params as Static<typeof ROUTES.chunk.params>;
    const { visit } = await visitOf(ctx, p);
    const chunk = visit.chunks.find((c) => c.index === p.index);
    if (chunk === undefined) throw notFound(`visit "${p.sessionId}" has no chunk ${p.index}`);
    if (!chunk.verified) throw new ApiError(409, 'rejected', `chunk ${p.index} was not verified at intake; it is not served as evidence`);
    const bytes = await readFile(chunk.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new ApiError(404, 'missing', `the file of chunk ${p.index} is missing from the evidence store`);
      throw err;
    });
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== chunk.sha256) {
      ctx.logger.warn({ deviceId: p.deviceId, sessionId: p.sessionId, index: p.index }, 'evidence chunk no longer matches its signed hash: not served');
      throw new ApiError(409, 'rejected', `chunk ${p.index} no longer matches the hash the device signed (sha256 ${sha.slice(0, 12)}…, signed ${chunk.sha256.slice(0, 12)}…): the file was altered or replaced`);
    }
    reply.type('video/mp2t');
    reply.header('content-disposition', `inline; filename="${p.deviceId}-${p.sessionId}-${chunkFileName(p.index)}"`);
    reply.header('x-nrec-sha256', sha);
    return bytes;
  });

  route(app, ROUTES.bundle, async (req, reply) => {
    const p = req.params as VisitParams;
    const { dir } = await visitOf(ctx, p);
    const key = await deviceKey(ctx, p.deviceId);
    const top = `${p.deviceId}-${p.sessionId}`;
    const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f === CHAIN_FILE || f === MANIFEST_FILE || /^chunk-\d+\.ts$/.test(f)).sort();
    if (!names.includes(CHAIN_FILE)) throw notFound(`visit "${p.sessionId}" of device "${p.deviceId}" has no stored chain`);
    async function* entries(): AsyncGenerator<TarEntry> {
      for (const f of names) {
        const path = join(dir, f);
        const [body, st] = await Promise.all([readFile(path), stat(path)]);
        yield { name: `${top}/evidence/${p.deviceId}/${p.sessionId}/${f}`, body, mtime: st.mtimeMs };
      }
      if (key !== undefined) yield { name: `${top}/keys/${p.deviceId}.pem`, body: Buffer.from(key.pem), mtime: ctx.now() };
    }
    ctx.logger.info({ deviceId: p.deviceId, sessionId: p.sessionId, by: req.auth!.name, files: names.length }, 'evidence bundle downloaded');
    reply.type('application/gzip');
    reply.header('content-disposition', `attachment; filename="${top}.tar.gz"`);
    return reply.send(tarGz(entries()));
  });
}
