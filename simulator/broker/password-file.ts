import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../lib/atomic-write.js';

/*
 * Mosquitto 2.0's password file format, `username:$7$<iterations>$<salt>$<hash>`
 * (PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash, both base64), so one file
 * serves the embedded broker and Mosquitto (`password_file`), and
 * `mosquitto_passwd` can make and edit it. Mosquitto's older `$6$` (one round
 * of salted SHA-512) is not accepted: such a user cannot log in, with a reason.
 */

const ITERATIONS = 101; // mosquitto_passwd's default; the passwords we provision are 256 random bits
const SALT_BYTES = 12;
const HASH_BYTES = 64;

/** One line of a password file for `username` (no newline). */
export function passwordEntry(username: string, password: string, salt = randomBytes(SALT_BYTES)): string {
  if (username === '' || username.includes(':') || /\s/.test(username)) throw new Error(`username "${username}" cannot go into a password file (no ':' or spaces)`);
  const hash = pbkdf2Sync(password, salt, ITERATIONS, HASH_BYTES, 'sha512');
  return `${username}:$7$${ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export type PasswordCheck = { ok: true } | { ok: false; reason: string };

/** Checks `password` against the hash part of an entry (after the `username:`). */
export function checkHash(stored: string, password: string): PasswordCheck {
  const m = /^\$7\$(\d{1,7})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (m === null) return { ok: false, reason: stored.startsWith('$6$') ? 'its password hash is the old $6$ kind: re-create it with mosquitto_passwd 2.x' : 'its password hash is not in the $7$ (PBKDF2-SHA512) format' };
  const expected = Buffer.from(m[3], 'base64');
  const got = pbkdf2Sync(password, Buffer.from(m[2], 'base64'), Number(m[1]), expected.length, 'sha512');
  return expected.length > 0 && timingSafeEqual(got, expected) ? { ok: true } : { ok: false, reason: 'wrong password' };
}

/** Parses a password file: username → hash part. Blank lines and `#` comments are skipped. */
export function parsePasswordFile(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const colon = l.indexOf(':');
    if (colon > 0) users.set(l.slice(0, colon), l.slice(colon + 1));
  }
  return users;
}

/**
 * A password file read by the broker, re-read when it changes (one stat per
 * check), so a device provisioned while the broker runs can connect at once.
 */
export class PasswordFile {
  readonly path: string;
  #users = new Map<string, string>();
  #version = '';

  constructor(path: string) {
    this.path = path;
    this.#reload();
  }

  #reload(): void {
    const st = statSync(this.path, { throwIfNoEntry: false });
    const version = st === undefined ? 'missing' : `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (version === this.#version) return;
    this.#users = st === undefined ? new Map() : parsePasswordFile(readFileSync(this.path, 'utf8'));
    this.#version = version;
  }

  /** Whether `username` may log in with `password`, and why not. */
  check(username: string | undefined, password: Buffer | undefined): PasswordCheck {
    if (username === undefined || username === '') return { ok: false, reason: 'no username (anonymous clients are not accepted)' };
    if (password === undefined) return { ok: false, reason: `no password for user "${username}"` };
    this.#reload();
    const stored = this.#users.get(username);
    if (stored === undefined) return { ok: false, reason: `user "${username}" is not in ${this.path}` };
    return checkHash(stored, password.toString('utf8'));
  }
}

/** Adds or replaces a user's entry; the file is written atomically with mode 0600. */
export async function setPassword(path: string, username: string, password: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const kept = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(`${username}:`));
  await writeFileAtomic(path, `${[...kept, passwordEntry(username, password)].join('\n')}\n`, 0o600);
}
