import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseCommandArgs, UsageError } from '../../../lib/cli-args.js';
import { keyRingFromMap, loadKeyRing, type KeyRing } from './keys.js';
import { formatReport, verifyStore } from './verify.js';

/**
 * `nrec verify STORE [--keys DIR|FILE] [--json]`: audits an evidence store.
 * Exit 0 only when something was checked and all of it is sound; 1 on any
 * problem and when there was nothing to check; 2 on bad usage or no such store.
 */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { options: { keys: { type: 'string' }, json: { type: 'boolean', default: false } }, positionals: ['STORE'], required: 1 });
  const store = positionals[0];
  if (values.keys === '') throw new UsageError('--keys needs a directory or a file');
  const st = await stat(store).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error || !st.isDirectory()) {
    const why = st instanceof Error ? (st.code === 'ENOENT' ? 'no such directory' : st.message) : 'not a directory';
    err.write(`nrec verify: no evidence store at ${store}: ${why}\n`);
    return 2;
  }
  let keys: KeyRing;
  const keysPath = values.keys ?? join(store, 'keys');
  try {
    keys = await loadKeyRing(keysPath);
  } catch (e) {
    // Without an explicit --keys, a store with no key directory is audited anyway: every session then says it has no key.
    if (values.keys !== undefined || existsSync(keysPath)) {
      err.write(`nrec verify: cannot load keys: ${(e as Error).message}\n`);
      return 2;
    }
    keys = keyRingFromMap(new Map(), `none (${keysPath} does not exist)`);
  }
  // An ingest store keeps evidence under <store>/evidence (beside the NDJSON streams); a bare evidence store is audited as is.
  const evidenceRoot = existsSync(join(store, 'evidence')) ? join(store, 'evidence') : store;
  const report = await verifyStore(evidenceRoot, keys);
  out.write(values.json ? `${JSON.stringify({ ...report, checked: report.sessions.length })}\n` : formatReport(report));
  return report.problems.length === 0 && report.sessions.length > 0 ? 0 : 1;
}
