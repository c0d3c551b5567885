import { describe, expect, it } from 'vitest';
import { consolePolicy, tileOrigin } from './console-files.js';

describe('the console\'s content security policy', () => {
  it('lets images come from the tile server only: its origin, {s} subdomains as a wildcard', () => {
    expect(tileOrigin('https://tile.openstreetmap.org/{z}/{x}/{y}.png')).toBe('https://tile.openstreetmap.org');
    expect(tileOrigin('https://{s}.tile.example.org/{z}/{x}/{y}.png')).toBe('https://*.tile.example.org');
    expect(tileOrigin('http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png')).toBe('http://127.0.0.1:8081');
    // A host made of other placeholders cannot be narrowed: the scheme, no more.
    expect(tileOrigin('https://{region}.tiles.example/{z}/{x}/{y}')).toBe('https:');
    expect(tileOrigin(undefined)).toBeUndefined();
    expect(consolePolicy(undefined)).toContain("img-src 'self' data: blob:;");
    expect(consolePolicy('https://a.example/{z}/{x}/{y}.png')).toContain("img-src 'self' data: blob: https://a.example;");
  });
});
