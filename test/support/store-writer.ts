import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openStore, type AcceptedMessage } from '../../platform/store/index.js';

/*
 * A second store instance in its own process, for tests of concurrent
 * writers on one database (a SQLite file shared by two processes, two
 * PostgreSQL sessions):
 *   node dist/test/support/store-writer.js <store-url> <batches.json>
 * Loads, prints "ready", waits for "go" on stdin, then opens the store
 * (migrations included: writers told to go together race to migrate a new
 * database), commits the batches one after another and prints one JSON line
 * {"stored": [[...], ...]} (or {"error": "..."} and exits 1).
 */
async function main(): Promise<void> {
  const [url, file] = process.argv.slice(2);
  const batches = JSON.parse(readFileSync(file, 'utf8')) as AcceptedMessage[][];
  const lines = createInterface({ input: process.stdin });
  process.stdout.write('ready\n');
  for await (const line of lines) if (line.trim() === 'go') break;
  lines.close();
  const store = await openStore(url);
  const stored: boolean[][] = [];
  for (const b of batches) stored.push((await store.commit(b, [])).stored);
  await store.close();
  process.stdout.write(`${JSON.stringify({ stored })}\n`);
}

main().catch((err: Error) => {
  process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
  process.exit(1);
});
