import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { ConsoleState, Topic } from '../model/state.js';
import type { Api } from './api.js';
import type { LiveConnection } from './live.js';
import type { AlarmSound } from './sound.js';

/** What every view reaches: the state, the API client, the live connection, the sound. */
export interface ConsoleContext {
  state: ConsoleState;
  api: Api;
  live: LiveConnection;
  sound: AlarmSound;
}

export const Ctx = createContext<ConsoleContext | undefined>(undefined);

export function useConsole(): ConsoleContext {
  const c = useContext(Ctx);
  if (c === undefined) throw new Error('useConsole outside the console');
  return c;
}

/** Topics a person must see at once; the rest (positions, device state at 1 Hz × devices) are drawn at most 4 times a second. */
const URGENT: readonly Topic[] = ['alarms', 'stream', 'session'];
const THROTTLE_MS = 250;

/** Re-renders when one of the topics changes: an alarm at once (next task), the rest throttled. */
export function useTopics(...topics: Topic[]): number {
  const { state } = useConsole();
  const [v, setV] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let urgent = false;
    let last = 0;
    const fire = () => {
      timer = undefined;
      urgent = false;
      last = Date.now();
      setV((x) => x + 1);
    };
    const off = state.subscribe((t) => {
      if (!topics.includes(t)) return;
      if (URGENT.includes(t)) {
        if (timer !== undefined && urgent) return;
        clearTimeout(timer);
        urgent = true;
        timer = setTimeout(fire, 0);
        return;
      }
      if (timer !== undefined) return;
      timer = setTimeout(fire, Math.max(0, THROTTLE_MS - (Date.now() - last)));
    });
    // What changed between this render and the subscription (the stream may have said hello meanwhile) is drawn now.
    setV((x) => x + 1);
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [state, topics.join(',')]);
  return v;
}

/** Re-renders every second: ages tick. */
export function useTick(ms = 1000): number {
  const [t, setT] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setT(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return t;
}

/** The hash route, split: #/visits/dev/sess → ['visits', 'dev', 'sess']. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [r, setR] = useState(read);
  useEffect(() => {
    const on = () => setR(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return r;
}

export const href = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join('/')}`;
