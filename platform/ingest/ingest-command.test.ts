import { describe, expect, it } from 'vitest';
import { parseTiles } from './ingest-command.js';

describe('nrec ingest --tiles', () => {
  it('takes an OSM-style template or none, and refuses what a map could not load', () => {
    expect(parseTiles(undefined, undefined)).toEqual({ url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', attribution: '© OpenStreetMap contributors', maxZoom: 19 });
    expect(parseTiles('https://{s}.tiles.example.org/{z}/{x}/{y}.png', '© Example')).toEqual({ url: 'https://{s}.tiles.example.org/{z}/{x}/{y}.png', attribution: '© Example', maxZoom: 19 });
    expect(parseTiles('none', undefined)).toBeNull();
    expect(() => parseTiles('tiles.example.org/{z}/{x}/{y}.png', undefined)).toThrow(/must be an http:\/\/ or https:\/\/ URL template/);
    expect(() => parseTiles('https://tiles.example.org/{z}/{x}.png', undefined)).toThrow(/lacks \{y\}/);
    expect(() => parseTiles('none', 'x')).toThrow(/makes no sense/);
  });
});
