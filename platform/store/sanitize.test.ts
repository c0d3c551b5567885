import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanJson, cleanText } from './sanitize.js';

const BAD = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('text PostgreSQL can hold', () => {
  it('replaces NUL and lone surrogates, keeps pairs and everything else', () => {
    expect(cleanText('a\u0000b')).toBe('a\ufffdb');
    expect(cleanText('\ud800x\udc00')).toBe('\ufffdx\ufffd');
    expect(cleanText('😀 ok')).toBe('😀 ok');
    expect(cleanJson({ 'k\u0000': ['\ud83d', 1, null, { x: 'fine' }] })).toEqual({ 'k\ufffd': ['\ufffd', 1, null, { x: 'fine' }] });
  });

  it('leaves a clean value untouched (the same object) and cleans any string completely', () => {
    const v = { a: ['x', { b: 'y' }], n: 1 };
    expect(cleanJson(v)).toBe(v);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
      const c = cleanText(s);
      expect(BAD.test(c)).toBe(false);
      expect(c.length).toBe(s.length);
      if (!BAD.test(s)) expect(c).toBe(s);
    }));
  });
});
