import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SAFE_NAME = /^[A-Za-z0-9._+@ ~=,-]+(\/[A-Za-z0-9._+@ ~=,-]+)*\/?$/;

/**
 * Lists a .tar.gz and refuses it unless every member is a plain file or a
 * directory under one top directory, with no absolute path, no `..`, no link
 * and no device: checked before a byte is extracted, so a hostile archive
 * cannot write outside the staging directory.
 */
export async function checkTarball(file: string): Promise<string> {
  const names = (await tar(['-tzf', file])).split('\n').filter(Boolean);
  const long = (await tar(['-tvzf', file])).split('\n').filter(Boolean);
  if (names.length === 0) throw new Error(`${file} is an empty archive`);
  if (names.length !== long.length) throw new Error(`${file}: member names with line breaks are not allowed`);
  const top = names[0].split('/')[0];
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    const type = long[i][0];
    if (type !== '-' && type !== 'd') throw new Error(`${file}: member ${n} is not a plain file or directory (type "${type}"); refusing the bundle`);
    if (!SAFE_NAME.test(n) || n.split('/').some((s) => s === '..' || s === '.')) throw new Error(`${file}: unsafe member name "${n.slice(0, 120)}"; refusing the bundle`);
    if (n.split('/')[0] !== top) throw new Error(`${file}: members outside the top directory ${top}/ ("${n}")`);
  }
  return top;
}

/** Extracts a checked bundle into a fresh directory under `parent`; returns the bundle's top directory. The caller removes `staging` when done. */
export async function unpackBundle(file: string, parent: string): Promise<{ staging: string; tree: string }> {
  const top = await checkTarball(file);
  const staging = await mkdtemp(join(parent, '.staging-'));
  try {
    await tar(['-xzf', file, '-C', staging, '--no-same-owner', '--delay-directory-restore']);
    const entries = await readdir(staging);
    if (entries.length !== 1 || entries[0] !== top) throw new Error(`${file}: expected one top directory ${top}, found ${entries.join(', ')}`);
    return { staging, tree: join(staging, top) };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

async function tar(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('tar', args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('tar not found: install it (apt-get install tar)');
    throw new Error(`tar ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}
