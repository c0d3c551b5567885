// The API suite (test/support/api-suite.ts) on the embedded back-end: a SQLite file per run.
import { afterAll } from 'vitest';
import { apiSuite } from './support/api-suite.js';
import { makeTempDir } from './support/index.js';

let n = 0;
const dir = await makeTempDir('nrec-api-sqlite-');
afterAll(() => dir.remove());
apiSuite({ backend: 'sqlite', freshUrl: async () => `sqlite:${dir.file(`store-${++n}.db`)}` });
