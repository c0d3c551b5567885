import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadKeyRing } from './keys.js';
import { formatReport, verifyStore } from './verify.js';

const USAGE = 'usage: nrec verify <store> [--keys <dir-or-file>] [--json]\n  --keys  device public keys: a directory of <deviceId>.pem, or one PEM for every device (default <store>/keys)\n';

/** `nrec verify`: audits an evidence store; exit 0 when clean, 1 on any problem, 2 on bad usage. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let store: string | undefined;
  let keysPath: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keys') keysPath = argv[++i];
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') {
      out.write(USAGE);
      return 0;
    } else if (a.startsWith('-') || store !== undefined) {
      err.write(`unexpected argument "${a}"\n${USAGE}`);
      return 2;
    } else store = a;
  }
  if (store === undefined || keysPath === '') {
    err.write(USAGE);
    return 2;
  }
  let keys;
  try {
    keys = await loadKeyRing(keysPath ?? join(store, 'keys'));
  } catch (e) {
    err.write(`cannot load keys: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  // An ingest store keeps evidence under <store>/evidence (beside the NDJSON streams); a bare evidence store is audited as is.
  const evidenceRoot = existsSync(join(store, 'evidence')) ? join(store, 'evidence') : store;
  const report = await verifyStore(evidenceRoot, keys);
  out.write(json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.problems.length === 0 ? 0 : 1;
}
