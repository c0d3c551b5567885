import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRegistry } from '../commands/command-registry.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../../lib/logger.js';
import { loadPublicKey, verifyTree } from './bundle-format.js';
import { downloadBundle } from './download.js';
import { unpackBundle } from './unpack.js';
import { REQUEST_FILE, writeJson, type UpdateRequest } from './update-state.js';

export interface UpdateCommandDeps {
  config: Config;
  logger: Logger;
}

/**
 * `update.install {url, sha256}`: the agent (an unprivileged user) downloads
 * the bundle, checks its hash and signature, and leaves a request in
 * <dataDir>/update/request.json; the root updater (nrec-update.service,
 * started by the nrec-update.path unit when that file appears) checks it
 * again, installs it and watches the new release's health. The result says
 * the update was accepted; its outcome follows as an update.committed or
 * update.failed event.
 */
export function registerUpdateCommands(reg: CommandRegistry, d: UpdateCommandDeps): void {
  reg.register('update.install', async (args, req) => {
    const url = args.url;
    const sha256 = args.sha256;
    if (typeof url !== 'string' || !url.startsWith('https://')) return { status: 'error', reason: 'args.url must be an https:// URL of the bundle' };
    if (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256)) return { status: 'error', reason: 'args.sha256 must be the bundle\'s SHA-256 (64 hex digits)' };
    const dir = join(d.config.dataDir, 'update');
    const incoming = join(dir, 'incoming');
    await mkdir(incoming, { recursive: true, mode: 0o700 });
    const bundle = join(incoming, `${sha256.toLowerCase()}.tar.gz`);
    try {
      await downloadBundle({ url, sha256, dest: bundle, maxBytes: d.config.update.maxBundleBytes, caFile: d.config.update.caFile });
      const key = loadPublicKey(await readFile(d.config.update.publicKeyFile, 'utf8'), `release key ${d.config.update.publicKeyFile}`);
      const { staging, tree } = await unpackBundle(bundle, incoming);
      let version: string;
      try {
        version = (await verifyTree(tree, key)).version;
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
      const request: UpdateRequest = { bundle, sha256: sha256.toLowerCase(), requestId: req.id, at: Date.now() };
      await writeJson(join(dir, REQUEST_FILE), request);
      d.logger.info({ version, requestId: req.id }, 'update accepted; handed to the updater');
      return { result: { accepted: true, version } };
    } catch (err) {
      await rm(bundle, { force: true });
      d.logger.warn({ err: (err as Error).message }, 'update refused');
      return { status: 'refused', reason: (err as Error).message };
    }
  });
}
