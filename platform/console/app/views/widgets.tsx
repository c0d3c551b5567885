import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ago, dateTime, freshness } from '../../model/age.js';
import { useConsole } from '../hooks.js';

/*
 * Small pieces every view uses. <Age> is how the console keeps the promise
 * that no value is silently stale: every time stamp shows how old it is, and
 * ticks.
 */

const tickers = new Set<() => void>();
setInterval(() => {
  for (const t of tickers) t();
}, 1000);

/** Re-renders the calling component once a second (one shared timer for all). */
export function useSecond(): void {
  const [, set] = useState(0);
  useEffect(() => {
    const t = () => set((x) => x + 1);
    tickers.add(t);
    return () => {
      tickers.delete(t);
    };
  }, []);
}

/**
 * "12 s ago", from a server-clock time stamp; `every` is how often the value
 * should be renewed: past it the age is shown as aging, past twice as stale.
 */
export function Age({ t, every, prefix }: { t: number | undefined; every?: number; prefix?: string }) {
  const { state } = useConsole();
  useSecond();
  if (t === undefined) return <span class="age none">never</span>;
  const a = state.age(t);
  const f = every === undefined ? 'fresh' : freshness(a, every);
  return <span class={`age ${f}`} data-age-ms={Math.round(a)} title={dateTime(t)}>{prefix ?? ''}{ago(a)}</span>;
}

export function Badge({ tone, children, title }: { tone: 'ok' | 'bad' | 'warn' | 'info' | 'muted'; children: ComponentChildren; title?: string }) {
  return <span class={`badge ${tone}`} title={title}>{children}</span>;
}

export function ErrorLine({ error }: { error: string | undefined }) {
  if (error === undefined) return null;
  return <p class="error" role="alert">{error}</p>;
}

/** Runs an async action from a button: busy while it runs, its error shown. */
export function useAction(): { busy: boolean; error: string | undefined; run: (f: () => Promise<unknown>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await f();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
