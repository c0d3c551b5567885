import type { FastifyInstance } from 'fastify';
import { ROUTES } from '../../../protocol/api.js';
import { openApiDocument } from '../../../protocol/openapi.js';
import { route, type ApiContext } from '../route-kit.js';

/**
 * GET /api/me and GET /api/openapi.json. The document needs a token like
 * everything else: it holds nothing secret (the same file is published in
 * protocol/published/openapi.json), so nothing is lost by keeping the rule
 * without exceptions, and an unauthenticated client learns nothing about
 * what this server runs.
 */
export function metaRoutes(app: FastifyInstance, _ctx: ApiContext): void {
  let doc: string | undefined;
  route(app, ROUTES.me, async (req) => ({ ...req.auth! }));
  route(app, ROUTES.openapi, async (_req, reply) => {
    doc ??= JSON.stringify(openApiDocument());
    reply.type('application/json; charset=utf-8');
    return doc;
  });
}
