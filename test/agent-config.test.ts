import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess, Cleanup, makeTempDir } from './support/index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('agent configuration', () => {
  it('exits non-zero naming the bad field', async () => {
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const agent = await AgentProcess.start({ deviceId: 'rec-1', dataDir: dir.file('data'), gps: { baudRate: 'fast' } }, dir.path);
    const code = await agent.exited();
    expect(code).toBe(2);
    expect(agent.lines.join('\n')).toMatch(/invalid configuration: .*\/gps\/baudRate/);
  });

  it('exits non-zero when the config file is not JSON', async () => {
    const dir = cleanup.add(await makeTempDir(), (d) => d.remove());
    const { writeFile } = await import('node:fs/promises');
    await writeFile(dir.file('agent.json'), '{"deviceId": ');
    const agent = new AgentProcess(dir.file('agent.json'));
    agent.spawn();
    expect(await agent.exited()).toBe(2);
    expect(agent.lines.join('\n')).toMatch(/not valid JSON/);
  });
});
