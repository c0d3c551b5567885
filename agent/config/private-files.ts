import { chmod, stat } from 'node:fs/promises';

/**
 * Secrets (the MQTT password and client key files, the device's signing key) must be mode 0600
 * and their directories 0700, as documented. One policy for all of them:
 * - a file or directory the agent's own user owns is tightened, and the caller reports it
 *   (others may have read it already: rotate the secret);
 * - a secret file owned by someone else is refused with the command that fixes it: the agent
 *   cannot tighten it, and using a secret others can read is how a device gets impersonated;
 * - a directory owned by someone else is reported, not refused (its files carry their own modes).
 */
export interface PrivateModeOptions {
  /** The uid the agent runs as (injectable for tests); default process.getuid(). */
  uid?: number;
}

/** What a check changed or could not change; undefined when the mode was already private. */
export type ModeNote = string | undefined;

const ownUid = (o: PrivateModeOptions): number | undefined => o.uid ?? process.getuid?.();

/** Checks that `path` (a secret file) is readable by its owner only; tightens it when ours, else throws naming the fix. */
export async function ensurePrivateFile(path: string, what: string, o: PrivateModeOptions = {}): Promise<ModeNote> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new Error(`${what} ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isFile()) throw new Error(`${what} ${path} is not a regular file`);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const open = `${what} ${path} has mode 0${mode.toString(8)}, readable by others; it must be 0600`;
  const uid = ownUid(o);
  if (uid !== undefined && st.uid !== uid) {
    throw new Error(`${open}, and it belongs to uid ${st.uid}, not to this agent (uid ${uid}), so it cannot be tightened here: fix with chmod 600 ${path} (or chown it to the agent's user), and consider the secret compromised if others had access`);
  }
  await chmod(path, 0o600);
  return `${open}: tightened to 0600; consider the secret compromised if others had access, and replace it`;
}

/** Tightens a directory holding private data to 0700 when ours; reports one it cannot tighten. Never throws for a mode. */
export async function ensurePrivateDir(path: string, what: string, o: PrivateModeOptions = {}): Promise<ModeNote> {
  const st = await stat(path);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const open = `${what} ${path} has mode 0${mode.toString(8)}, open to others`;
  const uid = ownUid(o);
  if (uid !== undefined && st.uid !== uid) return `${open}, and it belongs to uid ${st.uid}, not to this agent (uid ${uid}): fix with chmod 700 ${path}`;
  await chmod(path, 0o700);
  return `${open}: tightened to 0700`;
}
