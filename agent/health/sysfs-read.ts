import { readdir, readFile } from 'node:fs/promises';

/** Reads a sysfs attribute as trimmed text; undefined when it is missing or unreadable (drivers omit many). */
export async function readAttr(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Reads a sysfs attribute as an integer; undefined when missing, empty or not a number. */
export async function readIntAttr(path: string): Promise<number | undefined> {
  const text = await readAttr(path);
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return Number.parseInt(text, 10);
}

/** Entry names of a directory, sorted; empty when it is missing. */
export async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}
