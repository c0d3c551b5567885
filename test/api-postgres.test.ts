// The API suite (test/support/api-suite.ts) on a real PostgreSQL cluster of
// this file's own (initdb in a temp dir, default settings).
import { afterAll, beforeAll } from 'vitest';
import { apiSuite } from './support/api-suite.js';
import { PostgresCluster } from './support/postgres.js';

let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await PostgresCluster.start();
}, 60_000);
afterAll(() => cluster?.dispose());

apiSuite({ backend: 'postgres', freshUrl: () => cluster.createDatabase() });
