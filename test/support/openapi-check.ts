import { Ajv2020 } from 'ajv/dist/2020.js';

/*
 * An OpenAPI 3.1 document checked against the structure of the OAS 3.1
 * schema (https://spec.openapis.org/oas/3.1/schema, which a test cannot
 * download): the fields each object may and must have, parameters (in,
 * required path parameters matching the path template, schema xor content),
 * response codes and descriptions, component names, security schemes and
 * requirements, unique operation ids; then every $ref resolves and every
 * schema compiles as JSON Schema 2020-12 (Ajv, strict: unknown keywords are
 * errors).
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const TOP = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs'];
const INFO = ['title', 'summary', 'description', 'termsOfService', 'contact', 'license', 'version'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PATH_ITEM = ['summary', 'description', 'servers', 'parameters', '$ref', ...METHODS];
const OPERATION = ['tags', 'summary', 'description', 'externalDocs', 'operationId', 'parameters', 'requestBody', 'responses', 'callbacks', 'deprecated', 'security', 'servers'];
const PARAMETER = ['name', 'in', 'description', 'required', 'deprecated', 'allowEmptyValue', 'schema', 'content', 'style', 'explode', 'allowReserved', 'example', 'examples'];
const REQUEST_BODY = ['description', 'content', 'required'];
const MEDIA_TYPE = ['schema', 'encoding', 'example', 'examples'];
const RESPONSE = ['description', 'headers', 'content', 'links'];
const COMPONENTS = ['schemas', 'responses', 'parameters', 'examples', 'requestBodies', 'headers', 'securitySchemes', 'links', 'callbacks', 'pathItems'];
const SECURITY_SCHEME = ['type', 'description', 'name', 'in', 'scheme', 'bearerFormat', 'flows', 'openIdConnectUrl'];
const TAG = ['name', 'description', 'externalDocs'];

function fields(o: Json, allowed: string[], required: string[], where: string, problems: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k) && !k.startsWith('x-')) problems.push(`${where}: "${k}" is not a field of this object`);
  for (const k of required) if (!(k in o)) problems.push(`${where}: "${k}" is required`);
}

function pointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let cur: unknown = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObj(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Json)[part];
    if (cur === undefined) return undefined;
  }
  return cur;
}

function refs(v: unknown, at: string, out: Array<{ ref: string; at: string }>): void {
  if (Array.isArray(v)) v.forEach((x, i) => refs(x, `${at}/${i}`, out));
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push({ ref: x, at });
      else refs(x, `${at}/${k}`, out);
    }
  }
}

const BASE = 'https://nrec.invalid/openapi/components/schemas/';
const rebase = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(rebase);
  if (!isObj(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) out[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/components/schemas/') ? BASE + x.slice(21) : rebase(x);
  return out;
};

/** Every way the document departs from OpenAPI 3.1 (empty: it conforms). */
export function checkOpenApi31(doc: Json): string[] {
  const problems: string[] = [];
  fields(doc, TOP, ['openapi', 'info'], 'document', problems);
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+(-.+)?$/.test(doc.openapi)) problems.push(`openapi "${String(doc.openapi)}" is not 3.1.x`);
  if (!('paths' in doc) && !('components' in doc) && !('webhooks' in doc)) problems.push('one of paths, components, webhooks is required');
  const info = doc.info;
  if (!isObj(info)) problems.push('info must be an object');
  else {
    fields(info, INFO, ['title', 'version'], 'info', problems);
    if (typeof info.title !== 'string' || typeof info.version !== 'string') problems.push('info.title and info.version must be strings');
  }

  const components = isObj(doc.components) ? doc.components : {};
  fields(components, COMPONENTS, [], 'components', problems);
  for (const section of COMPONENTS) {
    const s = components[section];
    if (s === undefined) continue;
    if (!isObj(s)) {
      problems.push(`components.${section} must be an object`);
      continue;
    }
    for (const name of Object.keys(s)) if (!/^[a-zA-Z0-9._-]+$/.test(name)) problems.push(`components.${section}: name "${name}" has characters OpenAPI does not allow`);
  }
  const schemes = isObj(components.securitySchemes) ? components.securitySchemes : {};
  for (const [name, s] of Object.entries(schemes)) {
    const where = `securitySchemes.${name}`;
    if (!isObj(s)) {
      problems.push(`${where} must be an object`);
      continue;
    }
    fields(s, SECURITY_SCHEME, ['type'], where, problems);
    if (!['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'].includes(String(s.type))) problems.push(`${where}: type "${String(s.type)}" is unknown`);
    if (s.type === 'http' && typeof s.scheme !== 'string') problems.push(`${where}: an http scheme needs "scheme"`);
    if (s.type === 'apiKey' && (typeof s.name !== 'string' || !['query', 'header', 'cookie'].includes(String(s.in)))) problems.push(`${where}: an apiKey scheme needs name and in (query, header, cookie)`);
  }
  const checkSecurity = (sec: unknown, where: string) => {
    if (sec === undefined) return;
    if (!Array.isArray(sec)) return problems.push(`${where}: security must be an array`);
    for (const req of sec) {
      if (!isObj(req)) problems.push(`${where}: a security requirement must be an object`);
      else for (const [name, scopes] of Object.entries(req)) {
        if (!(name in schemes)) problems.push(`${where}: security scheme "${name}" is not declared`);
        if (!Array.isArray(scopes) || scopes.some((x) => typeof x !== 'string')) problems.push(`${where}: the scopes of "${name}" must be an array of strings`);
      }
    }
  };
  checkSecurity(doc.security, 'document');

  const tags = Array.isArray(doc.tags) ? doc.tags : [];
  const tagNames = new Set<string>();
  for (const t of tags) {
    if (!isObj(t)) continue;
    fields(t, TAG, ['name'], `tag ${String(t.name)}`, problems);
    if (tagNames.has(String(t.name))) problems.push(`tag "${String(t.name)}" is declared twice`);
    tagNames.add(String(t.name));
  }

  const content = (c: unknown, where: string) => {
    if (!isObj(c)) return problems.push(`${where}: content must be an object`);
    for (const [type, m] of Object.entries(c)) {
      if (!/^[a-z*]+\/[a-z0-9.+*-]+$/i.test(type)) problems.push(`${where}: "${type}" is not a media range`);
      if (!isObj(m)) problems.push(`${where} ${type}: a media type object is required`);
      else fields(m, MEDIA_TYPE, [], `${where} ${type}`, problems);
    }
  };

  const operationIds = new Set<string>();
  const paths = isObj(doc.paths) ? doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/')) problems.push(`path "${path}" must start with /`);
    if (!isObj(item)) {
      problems.push(`${path}: a path item must be an object`);
      continue;
    }
    fields(item, PATH_ITEM, [], path, problems);
    const template = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (!isObj(op)) {
        problems.push(`${where}: an operation must be an object`);
        continue;
      }
      fields(op, OPERATION, [], where, problems);
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) problems.push(`${where}: operationId "${op.operationId}" is used twice`);
        operationIds.add(op.operationId);
      }
      for (const t of Array.isArray(op.tags) ? op.tags : []) if (!tagNames.has(String(t))) problems.push(`${where}: tag "${String(t)}" is not declared`);
      const params = Array.isArray(op.parameters) ? op.parameters : [];
      const seen = new Set<string>();
      const inPath = new Set<string>();
      for (const p of params) {
        if (!isObj(p)) {
          problems.push(`${where}: a parameter must be an object`);
          continue;
        }
        const pw = `${where} parameter ${String(p.name)}`;
        fields(p, PARAMETER, ['name', 'in'], pw, problems);
        if (!['query', 'header', 'path', 'cookie'].includes(String(p.in))) problems.push(`${pw}: in "${String(p.in)}" is unknown`);
        if (('schema' in p) === ('content' in p)) problems.push(`${pw}: exactly one of schema and content`);
        if (p.in === 'path') {
          if (p.required !== true) problems.push(`${pw}: a path parameter must be required: true`);
          inPath.add(String(p.name));
        }
        const key = `${String(p.in)}:${String(p.name)}`;
        if (seen.has(key)) problems.push(`${pw}: declared twice`);
        seen.add(key);
      }
      for (const t of template) if (!inPath.has(t)) problems.push(`${where}: path parameter {${t}} is not declared`);
      for (const n of inPath) if (!template.includes(n)) problems.push(`${where}: path parameter ${n} is not in the path`);
      if (op.requestBody !== undefined) {
        if (!isObj(op.requestBody)) problems.push(`${where}: requestBody must be an object`);
        else {
          fields(op.requestBody, REQUEST_BODY, ['content'], `${where} requestBody`, problems);
          content(op.requestBody.content, `${where} requestBody`);
        }
      }
      if (!isObj(op.responses) || Object.keys(op.responses).length === 0) problems.push(`${where}: responses are required`);
      else {
        for (const [code, r] of Object.entries(op.responses)) {
          const rw = `${where} ${code}`;
          if (code !== 'default' && !/^[1-5](?:\d\d|XX)$/.test(code) && !code.startsWith('x-')) problems.push(`${rw}: not a response code`);
          if (!isObj(r)) {
            problems.push(`${rw}: a response must be an object`);
            continue;
          }
          if ('$ref' in r) continue;
          fields(r, RESPONSE, ['description'], rw, problems);
          if (typeof r.description !== 'string') problems.push(`${rw}: description must be a string`);
          if (r.content !== undefined) content(r.content, rw);
        }
      }
      checkSecurity(op.security, where);
    }
  }

  const all: Array<{ ref: string; at: string }> = [];
  refs(doc, '#', all);
  for (const { ref, at } of all) if (pointer(doc, ref) === undefined) problems.push(`${at}: $ref ${ref} does not resolve`);

  // Every schema compiles as JSON Schema 2020-12, refs to components included.
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false, allErrors: true, validateFormats: false });
  const schemas = isObj(components.schemas) ? components.schemas : {};
  for (const [name, s] of Object.entries(schemas)) {
    try {
      ajv.addSchema(rebase(s) as Json, BASE + name);
    } catch (err) {
      problems.push(`components.schemas.${name}: ${(err as Error).message}`);
    }
  }
  const compile = (s: unknown, where: string) => {
    try {
      ajv.compile(rebase(s) as Json);
    } catch (err) {
      problems.push(`${where}: not a valid JSON Schema 2020-12: ${(err as Error).message}`);
    }
  };
  for (const name of Object.keys(schemas)) compile({ $ref: BASE + name }, `components.schemas.${name}`);
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = isObj(item) ? item[method] : undefined;
      if (!isObj(op)) continue;
      for (const p of Array.isArray(op.parameters) ? op.parameters : []) if (isObj(p) && p.schema !== undefined) compile(p.schema, `${method} ${path} parameter ${String(p.name)}`);
      const bodies = [isObj(op.requestBody) ? op.requestBody.content : undefined, ...Object.values(isObj(op.responses) ? op.responses : {}).map((r) => (isObj(r) ? r.content : undefined))];
      for (const c of bodies) if (isObj(c)) for (const [type, m] of Object.entries(c)) if (isObj(m) && m.schema !== undefined) compile(m.schema, `${method} ${path} ${type}`);
    }
  }
  return problems;
}
