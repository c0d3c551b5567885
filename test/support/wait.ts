import type { Ingest } from '../../platform/ingest/index.js';

/** Polls a condition driven by events elsewhere (files, counters) until it holds; fails with `what` on timeout. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 20_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves with the next message the ingest stores on `stream` that passes `filter`. */
export function nextStored<T = Record<string, unknown>>(ingest: Ingest, stream: string, filter: (m: T) => boolean = () => true, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      ingest.off('stored', on);
      reject(new Error(`no ${stream} message stored within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (_d: string, s: string, m: T) => {
      if (s !== stream || !filter(m)) return;
      clearTimeout(t);
      ingest.off('stored', on);
      resolve(m);
    };
    ingest.on('stored', on);
  });
}
