import { exec } from 'node:child_process';
import { readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadPublicKey } from './bundle-format.js';
import { layoutFor } from './layout.js';
import { readJson, REQUEST_FILE, type UpdateRequest } from './update-state.js';
import { Updater, UpdateRefused } from './updater.js';
import { UsageError } from '../../lib/cli-args.js';

const sh = promisify(exec);


/** `nrec update`: see `nrec help update`. Exit 0 when the release is committed (or nothing was to do), 1 when refused or rolled back. */
export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string' }, key: { type: 'string' }, sha256: { type: 'string' }, deadline: { type: 'string' },
        'restart-cmd': { type: 'string' }, 'no-wait': { type: 'boolean' }, service: { type: 'boolean' }, status: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const layout = layoutFor(resolve(String(values.root ?? '/')));
  const say = (line: string) => process.stdout.write(`nrec update: ${line}\n`);
  const updater = async (): Promise<Updater> => {
    const keyFile = String(values.key ?? layout.releaseKey);
    const pem = await readFile(keyFile, 'utf8').catch(() => {
      throw new UpdateRefused(`release key ${keyFile} not found: install it (install.sh puts it in /etc/nrec/release-key.pem) or pass --key`);
    });
    const config = await readJson<{ update?: { healthDeadlineS?: number } }>(layout.config).catch(() => undefined);
    const deadlineS = values.deadline === undefined ? config?.update?.healthDeadlineS ?? 300 : Number(values.deadline);
    if (!Number.isFinite(deadlineS) || deadlineS <= 0) throw new UpdateRefused(`--deadline must be a number of seconds (got ${String(values.deadline)})`);
    const restartCmd = String(values['restart-cmd'] ?? 'systemctl restart nrec.service');
    return new Updater({
      layout,
      publicKey: loadPublicKey(pem, `release key ${keyFile}`),
      deadlineMs: deadlineS * 1000,
      say,
      restart: async () => {
        try {
          await sh(restartCmd);
        } catch (err) {
          // The switch is done; a failed restart leaves the old process running until the next one, and the watch decides.
          say(`restart command "${restartCmd}" failed: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
        }
      },
    });
  };

  try {
    if (values.status === true) {
      process.stdout.write(`${JSON.stringify((await readJson(join(layout.updateDir, 'state.json'))) ?? { phase: 'none' }, null, 2)}\n`);
      return 0;
    }
    if (values.service === true) return await serviceRun(await updater(), layout.updateDir, say);
    const bundle = positionals[0];
    if (bundle === undefined || positionals.length > 1) {
      throw new UsageError('name one bundle file');
    }
    const u = await updater();
    await u.install(resolve(bundle), values.sha256 === undefined ? {} : { expectSha256: String(values.sha256) });
    if (values['no-wait'] === true) return 0;
    const end = await u.watch();
    return end.phase === 'committed' ? 0 : 1;
  } catch (err) {
    process.stderr.write(`nrec update: ${(err as Error).message}\n`);
    return 1;
  }
}

/** nrec-update.service: finish a test left by a reboot or a killed updater, then take a remote request if one waits. */
async function serviceRun(u: Updater, updateDir: string, say: (l: string) => void): Promise<number> {
  const resumed = await u.resume();
  const reqPath = join(updateDir, REQUEST_FILE);
  const req = await readJson<UpdateRequest>(reqPath);
  if (req === undefined) return resumed?.phase === 'rolled-back' ? 1 : 0;
  // Taken before it is acted on: the path unit must not start us again for the same request.
  await rename(reqPath, `${reqPath}.taken`);
  say(`remote update request ${req.requestId}: ${req.bundle}`);
  try {
    await u.install(req.bundle, { expectSha256: req.sha256, requestId: req.requestId });
  } catch (err) {
    if (!(err instanceof UpdateRefused)) throw err;
    say((err as Error).message);
    await u.recordRefusal(err.message, req.requestId);
    return 1;
  } finally {
    // Unpacked into the releases (or refused): the download is not needed any more.
    await rm(req.bundle, { force: true });
  }
  const end = await u.watch();
  return end.phase === 'committed' ? 0 : 1;
}
