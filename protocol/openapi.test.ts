import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOpenApi31 } from '../test/support/openapi-check.js';
import { ROUTES } from './api.js';
import { openApiDocument } from './openapi.js';

// The staleness of protocol/published/openapi.json is checked with the other published files (protocol.test.ts).
const published = join(import.meta.dirname, 'published', 'openapi.json');

describe('OpenAPI document', () => {
  it('the published document is OpenAPI 3.1: structure, $refs, and every schema valid JSON Schema 2020-12', async () => {
    const doc = JSON.parse(await readFile(published, 'utf8')) as Record<string, unknown>;
    expect(checkOpenApi31(doc)).toEqual([]);
  });

  it('has every route of the table, with its role, and the errors every route can give', () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string; 'x-nrec-role': string; responses: Record<string, unknown> }>> };
    for (const r of Object.values(ROUTES)) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(op.operationId).toBe(r.operationId);
      expect(op['x-nrec-role']).toBe(r.role);
      for (const code of ['401', '403', '429']) expect(Object.keys(op.responses)).toContain(code);
    }
  });

  it('the check finds faults (it is not a rubber stamp)', () => {
    const fresh = () => JSON.parse(JSON.stringify(openApiDocument())) as Record<string, any>;
    const faults: Array<[string, (d: Record<string, any>) => void, RegExp]> = [
      ['version', (d) => { d.openapi = '3.0.3'; }, /not 3\.1/],
      ['response description', (d) => { delete d.paths['/api/devices'].get.responses['200'].description; }, /"description" is required/],
      ['path parameter', (d) => { d.paths['/api/devices/{deviceId}'].get.parameters = []; }, /\{deviceId\} is not declared/],
      ['dangling $ref', (d) => { delete d.components.schemas.Device; }, /does not resolve/],
      ['bad schema', (d) => { d.components.schemas.Me.properties.name.type = 'text'; }, /not a valid JSON Schema|must be equal to one of/],
      ['unknown field', (d) => { d.paths['/api/me'].get.bogus = 1; }, /"bogus" is not a field/],
      ['security scheme', (d) => { d.security = [{ nope: [] }]; }, /"nope" is not declared/],
    ];
    for (const [what, mutate, expected] of faults) {
      const d = fresh();
      mutate(d);
      expect(checkOpenApi31(d).join('\n'), what).toMatch(expected);
    }
  });
});
