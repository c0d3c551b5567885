// The real agent and ingest through a Mosquitto configured from the
// scripts/mosquitto templates: the device's control connection on the
// control listener, its media on the bulk listener (mqtt.bulkUrl), the
// ingest on the platform listener with a certificate of the platform CA.
// An SOS with evidence must arrive whole: the alarm stored, chunks stored and
// acknowledged (so the device's two connections coexist under the ids the
// broker forces on them: CN for control, subject for bulk).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Cleanup, World, makeTempDir, waitFor } from './support/index.js';
import { storedSessions } from './support/evidence.js';
import { PLATFORM_CN, startSecureBroker, type SecureBroker } from './support/secure-broker.js';

const logger = createLogger('test', { level: 'error' });
const DEVICE = 'sim-001';

/** The agent's upload queue: chunks not yet acknowledged by the ingest. */
function queued(dbPath: string): Array<{ session_id: string; idx: number }> {
  if (!existsSync(dbPath)) return [];
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { session_id: string; idx: number }>('SELECT session_id, idx FROM chunks').all();
  } finally {
    db.close();
  }
}

describe('agent and ingest through the secured broker templates', () => {
  const cleanup = new Cleanup();
  let sb: SecureBroker;
  let world: World;

  beforeAll(async () => {
    sb = cleanup.add(await startSecureBroker([DEVICE]), (b) => b.dispose());
    const workDir = cleanup.add(await makeTempDir('nrec-secure-'), (d) => d.remove());
    const dev = sb.devices.clients[DEVICE];
    const platform = sb.platform.clients[PLATFORM_CN];
    world = cleanup.add(await World.create({
      logger, workDir: workDir.path, deviceId: DEVICE, media: true, brokerUrl: sb.urls.control,
      agentConfig: { mqtt: { url: sb.urls.control, bulkUrl: sb.urls.bulk, caFile: sb.devices.ca, certFile: dev.cert, keyFile: dev.key } },
      ingest: { brokerUrl: sb.urls.platform, ca: await readFile(sb.devices.ca), cert: await readFile(platform.cert), key: await readFile(platform.key), protocolVersion: 5 },
    }), (w) => w.close());
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await world.agent.waitForLine('"recorder":"running"');
  }, 60_000);
  afterAll(() => cleanup.run());

  it('stores an SOS and its evidence sent over the control and bulk listeners', async () => {
    await world.pressSos();
    await waitFor('the alarm stored', () => world.ingest.stats.accepted.alarm, 30_000);
    const session = await waitFor('3 evidence chunks stored', () => storedSessions(world.storeDir, DEVICE).find((s) => s.chain.length >= 3), 90_000, 200);
    expect(world.ingest.stats.rejected).toBe(0);
    // Acknowledged back to the device (platform listener → control listener): it forgets the stored chunks.
    const stored = session.chain.slice(0, 3).map((r) => r.meta.index);
    const dbPath = join(String(world.agentConfig.dataDir), 'uploads.db');
    await waitFor('the stored chunks acknowledged to the device', () => !queued(dbPath).some((q) => q.session_id === session.sessionId && stored.includes(q.idx)), 30_000, 200);
  }, 150_000);
});
