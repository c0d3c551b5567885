import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Parser } from '@asyncapi/parser';
import { bulkClientId, deviceTopic, inboundTopic, isValidDeviceId, isValidId, parseTopic } from './topics.js';
import { Location, Alarm } from './messages.js';
import { Validator } from './validate.js';
import { publishedFiles } from './published.js';
import { MANIFEST } from './generate-command.js';

const publishedDir = join(import.meta.dirname, 'published');

describe('topics', () => {
  it('builds and parses device and inbound topics', () => {
    expect(deviceTopic('dev-1', 'location')).toBe('nrec/v1/dev-1/location');
    expect(parseTopic('nrec/v1/dev-1/location')).toEqual({ ok: true, direction: 'device', deviceId: 'dev-1', stream: 'location' });
    expect(parseTopic(deviceTopic('d', 'media', 'part'))).toEqual({ ok: true, direction: 'device', deviceId: 'd', stream: 'media', sub: 'part' });
    expect(parseTopic(inboundTopic('d_2', 'req'))).toEqual({ ok: true, direction: 'inbound', deviceId: 'd_2', kind: 'req' });
  });

  it('rejects ids that would break topic mapping, naming the problem', () => {
    for (const bad of ['a.b', 'a b', '+', '#', '', 'x'.repeat(65), '$SYS']) expect(() => deviceTopic(bad, 'status')).toThrow(/deviceId/);
    expect(parseTopic('other/v1/d/location')).toMatchObject({ ok: false, reason: expect.stringContaining('not under nrec/') });
    expect(parseTopic('nrec/v2/d/location')).toMatchObject({ ok: false, reason: expect.stringContaining('version') });
    expect(parseTopic('nrec/v1/d/bogus')).toMatchObject({ ok: false, reason: expect.stringContaining('unknown stream') });
    expect(parseTopic('nrec/v1/d.x/location')).toMatchObject({ ok: false, reason: expect.stringContaining('invalid deviceId') });
    expect(parseTopic('nrec/v1/d/cmd/zzz')).toMatchObject({ ok: false });
  });

  it('gives the bulk connection a client id no device can have as its control id, unique per device', () => {
    // With a "-bulk" suffix, device "x-bulk"'s control id was device "x"'s bulk id.
    expect(bulkClientId('x')).not.toBe('x-bulk');
    for (const id of ['x', 'x-bulk', 'x_bulk', 'dev-1']) {
      expect(isValidId(bulkClientId(id))).toBe(false);
      expect(bulkClientId(id)).not.toBe(id);
    }
    expect(new Set(['x', 'x-bulk', 'x-bulk-bulk', 'xbulk'].map(bulkClientId)).size).toBe(4);
    expect(() => bulkClientId('a.b')).toThrow(/deviceId/);
  });

  it('refuses device ids that would collide with the ingest store folders (keys, evidence, _-prefixed)', () => {
    for (const bad of ['_rejected', '_incoming', 'keys', 'KEYS', 'evidence', 'Evidence']) {
      expect(() => deviceTopic(bad, 'status'), bad).toThrow(/deviceId/);
      expect(() => inboundTopic(bad, 'req'), bad).toThrow(/deviceId/);
      expect(parseTopic(`nrec/v1/${bad}/location`), bad).toMatchObject({ ok: false, reason: expect.stringContaining('invalid deviceId') });
      expect(isValidDeviceId(bad), bad).toBe(false);
    }
    for (const good of ['keys2', 'evidence-1', 'a_', 'dev-1']) expect(parseTopic(`nrec/v1/${good}/location`), good).toMatchObject({ ok: true, deviceId: good });
  });
});

describe('validation', () => {
  const base = { v: 1, id: 'm1', deviceId: 'd1', bootId: 'b1', seq: 0, ts: 1_700_000_000_000 };
  const fix = { lat: 35.68, lon: 139.76, time: 1_700_000_000_000, fixType: '3d' };

  it('accepts a valid location and rejects bad ones naming field and rule', () => {
    const v = new Validator(Location);
    expect(v.check({ ...base, fix })).toEqual({ ok: true, value: { ...base, fix } });
    const bad = v.check({ ...base, fix: { ...fix, lat: 91 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.join()).toMatch(/\/fix\/lat.*90/);
    const missing = v.check({ ...base, seq: undefined, fix });
    if (missing.ok) throw new Error('missing seq accepted');
    expect(missing.errors.join()).toMatch(/\/seq/);
    const extra = v.check({ ...base, fix, sneaky: 1 });
    expect(extra.ok).toBe(false);
  });

  it('reports non-JSON payloads instead of throwing', () => {
    const r = new Validator(Alarm).parse(Buffer.from('{not json'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/alarm: payload is not JSON/);
  });
});

describe('published contract', () => {
  it('protocol/published matches the schemas in code (run `npm run gen:protocol` after changing them)', async () => {
    const expected = publishedFiles();
    const onDisk = (await readdir(publishedDir)).filter((f) => f !== MANIFEST).sort();
    expect(onDisk).toEqual(Object.keys(expected).sort());
    // The generator's manifest names exactly what it wrote: a later run removes only those files.
    expect((await readFile(join(publishedDir, MANIFEST), 'utf8')).trim().split('\n')).toEqual(Object.keys(expected).sort());
    for (const [name, content] of Object.entries(expected)) {
      expect(await readFile(join(publishedDir, name), 'utf8'), `${name} is stale`).toBe(content);
    }
  });

  it('the AsyncAPI document is valid AsyncAPI 3', async () => {
    const parser = new Parser();
    const { document, diagnostics } = await parser.parse(await readFile(join(publishedDir, 'asyncapi.json'), 'utf8'));
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((e) => `${e.path.join('.')}: ${e.message}`)).toEqual([]);
    expect(document?.channels().length).toBeGreaterThanOrEqual(7);
  });
});
