import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../test/support/cleanup.js';
import { makeTempDir } from '../../test/support/temp.js';
import { confirmDecision, MAX_BOOTS, pendingPath, prepareBoot, readPending, writePending, type PendingChange } from './commit-confirm.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const previous = { deviceId: 'dev-1', mqtt: { url: 'mqtt://good:1883' } };
const next = { deviceId: 'dev-1', mqtt: { url: 'mqtt://dead:1883' } };

async function setup(o: Partial<PendingChange> = {}, onDisk: unknown = next) {
  const dir = cleanup.add(await makeTempDir('nrec-confirm-'), (d) => d.remove());
  const configPath = dir.file('agent.json');
  await writeFile(configPath, JSON.stringify(onDisk));
  const p: PendingChange = { v: 1, requestId: 'req-1', name: 'config.set', changed: ['mqtt.url'], previous, next, appliedAt: 1000, deadlineAt: 121_000, boots: 0, phase: 'pending', ...o };
  await writePending(configPath, p);
  const config = async () => JSON.parse(await readFile(configPath, 'utf8')) as unknown;
  return { configPath, config };
}

describe('commit-confirmed configuration at start-up', () => {
  it('counts each start with the change while the deadline holds', async () => {
    const { configPath, config } = await setup();
    expect(await prepareBoot(configPath, 2000)).toMatchObject({ phase: 'pending', boots: 1 });
    expect(await prepareBoot(configPath, 3000)).toMatchObject({ phase: 'pending', boots: 2 });
    expect(await config()).toEqual(next);
  });

  it(`ends a restart loop in the previous config after ${MAX_BOOTS} starts`, async () => {
    const { configPath, config } = await setup();
    for (let i = 1; i <= MAX_BOOTS; i++) expect(await prepareBoot(configPath, 2000)).toMatchObject({ phase: 'pending', boots: i });
    const p = await prepareBoot(configPath, 2000);
    expect(p).toMatchObject({ phase: 'rolled-back', reason: expect.stringMatching(/started 3 times with it without becoming healthy/) });
    expect(await config()).toEqual(previous);
    // The next start only reports it: the previous config stays.
    expect(await prepareBoot(configPath, 2000)).toMatchObject({ phase: 'rolled-back' });
    expect(await config()).toEqual(previous);
  });

  it('rolls back at start when the deadline passed while the agent was down', async () => {
    const { configPath, config } = await setup();
    expect(await prepareBoot(configPath, 200_000)).toMatchObject({ phase: 'rolled-back', reason: expect.stringMatching(/within 120 s \(the deadline passed while the agent was down\)/) });
    expect(await config()).toEqual(previous);
    expect(await readPending(configPath)).toMatchObject({ phase: 'rolled-back' });
  });

  it('does not claim a change that never reached the config file, nor overwrite a file someone replaced', async () => {
    const stopped = await setup({}, previous);
    expect(await prepareBoot(stopped.configPath, 2000)).toMatchObject({ phase: 'rolled-back', reason: 'the agent stopped before the change was applied' });
    const other = { deviceId: 'dev-1', mqtt: { url: 'mqtt://by-hand:1883' } };
    const replaced = await setup({}, other);
    expect(await prepareBoot(replaced.configPath, 2000)).toMatchObject({ phase: 'rolled-back', reason: expect.stringMatching(/replaced/) });
    expect(await replaced.config()).toEqual(other);
  });

  it('without a pending change does nothing', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-confirm-'), (d) => d.remove());
    expect(await prepareBoot(dir.file('agent.json'), 0)).toBeUndefined();
    expect(existsSync(pendingPath(dir.file('agent.json')))).toBe(false);
  });

  it('commits once every enabled service is up, rolls back at the deadline naming what was not', () => {
    const p = { appliedAt: 0, deadlineAt: 10_000 } as PendingChange;
    expect(confirmDecision(p, { connected: true, gps: true, button: true }, 1)).toEqual({ action: 'commit' });
    expect(confirmDecision(p, { connected: true }, 1)).toEqual({ action: 'commit' }); // GPS and button disabled
    expect(confirmDecision(p, { connected: false, gps: true, button: true }, 9_999)).toEqual({ action: 'wait' });
    expect(confirmDecision(p, { connected: false, gps: false, button: true }, 10_000)).toEqual({ action: 'rollback', reason: 'not healthy within 10 s: not connected to the broker, GPS receiver not delivering' });
    expect(confirmDecision(p, { connected: true, button: false }, 10_000)).toEqual({ action: 'rollback', reason: 'not healthy within 10 s: alarm button not watched' });
  });
});
