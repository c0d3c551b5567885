import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCommand, DEVICE_COMMAND_NAMES } from './commands.js';

/** Every command name the agent registers a handler for (read from its source, not imported: protocol/ imports nothing of the agent). */
async function agentCommandNames(): Promise<string[]> {
  const root = join(import.meta.dirname, '..', 'agent');
  const names = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        for (const m of (await readFile(p, 'utf8')).matchAll(/\.register\('([a-z][a-z0-9.]*)'/g)) names.add(m[1]);
      }
    }
  };
  await walk(root);
  return [...names].sort();
}

describe('device commands', () => {
  it('are exactly the commands the agent handles', async () => {
    expect([...DEVICE_COMMAND_NAMES].sort()).toEqual(await agentCommandNames());
  });

  it('check names and arguments, naming the field', () => {
    expect(checkCommand('ping', undefined)).toEqual({ ok: true });
    expect(checkCommand('visit.start', { visitId: 'v-1', consent: true, geofence: { lat: 1, lon: 2, radiusM: 50 } })).toEqual({ ok: true });
    expect(checkCommand('visit.start', { visitId: 'v 1', consent: true })).toMatchObject({ ok: false, errors: [expect.stringContaining('/args/visitId')] });
    expect(checkCommand('record.start', {})).toMatchObject({ ok: false, errors: expect.arrayContaining(['record.start field /args/visitId: Expected required property']) });
    expect(checkCommand('ping', { x: 1 })).toMatchObject({ ok: false });
    expect(checkCommand('update.install', { url: 'http://x', sha256: 'a'.repeat(64) })).toMatchObject({ ok: false, errors: [expect.stringContaining('/args/url')] });
    expect(checkCommand('rm.rf', {})).toMatchObject({ ok: false, errors: [expect.stringContaining('unknown command "rm.rf"')] });
  });
});
