import { useEffect, useState } from 'preact/hooks';
import { deskView } from '../model/desk.js';
import type { ConsoleState } from '../model/state.js';
import type { ApiMe, ApiSettings } from '../model/types.js';
import { Api, ApiFailure, saveToken, savedToken } from './api.js';
import { Ctx, href, useConsole, useRoute, useTopics, type ConsoleContext } from './hooks.js';
import { LiveConnection } from './live.js';
import type { AlarmSound, SoundState } from './sound.js';
import { AlarmsPage, AlarmStrip } from './views/desk.js';
import { DevicePage, DevicesPage } from './views/devices.js';
import { Login } from './views/login.js';
import { MapPage } from './views/map.js';
import { VisitPage, VisitsPage } from './views/visits.js';
import { Age } from './views/widgets.js';

/*
 * The console's shell: sign-in, then the header (who, the stream's state),
 * the alarm strip above every page, and the page of the route.
 */

function StreamStatus() {
  const { state } = useConsole();
  useTopics('stream');
  const s = state.stream;
  if (s.state === 'live') return <span class="stream live" data-stream="live" title="live stream connected">● live</span>;
  if (s.state === 'connecting') return <span class="stream connecting" data-stream="connecting">connecting…</span>;
  return <span class="stream down" data-stream="down" role="alert">connection lost <Age t={s.since + state.offsetMs} />, reconnecting…</span>;
}

function StaleBanner() {
  const { state } = useConsole();
  useTopics('stream');
  if (state.stream.state !== 'down') return null;
  return <p class="stale" role="alert" data-field="stale-banner">The live connection to the platform dropped: the console reconnects by itself. Until then nothing new arrives; every value shows its age.</p>;
}

function Page() {
  const route = useRoute();
  const [page] = route;
  if (page === 'alarms') return <AlarmsPage route={route} />;
  if (page === 'devices' && route[1] !== undefined) return <DevicePage deviceId={route[1]} />;
  if (page === 'devices') return <DevicesPage />;
  if (page === 'visits' && route[2] !== undefined) return <VisitPage deviceId={route[1]} sessionId={route[2]} />;
  if (page === 'visits') return <VisitsPage />;
  return <MapPage route={route[0] === 'map' ? route : ['map']} />;
}

function Shell({ onSignOut, sound }: { onSignOut: () => void; sound: AlarmSound }) {
  const { state } = useConsole();
  const [soundState, setSoundState] = useState<SoundState>(sound.state);
  useEffect(() => {
    sound.onChange = setSoundState;
    const update = () => sound.want(deskView(state.alarms.values(), state.serverNow()).waiting.length > 0);
    update();
    const off = state.subscribe((t) => {
      if (t === 'alarms') update();
    });
    return () => {
      off();
      sound.want(false);
    };
  }, [state, sound]);
  const me = state.me!;
  const [page] = useRoute();
  const nav = (p: string, label: string) => <a href={href(p)} class={(page ?? 'map') === p ? 'active' : ''}>{label}</a>;
  return (
    <div class="shell">
      <header class="top">
        <strong>nrec</strong>
        <nav>{nav('map', 'Map')}{nav('alarms', 'Alarms')}{nav('devices', 'Devices')}{nav('visits', 'Visits')}</nav>
        <StreamStatus />
        <span class="me" data-role={me.role}>{me.name} · {me.role}</span>
        <button type="button" onClick={onSignOut}>Sign out</button>
      </header>
      <StaleBanner />
      <AlarmStrip sound={soundState} />
      <main><Page /></main>
    </div>
  );
}

export function App({ state, sound }: { state: ConsoleState; sound: AlarmSound }) {
  const [ctx, setCtx] = useState<ConsoleContext | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [restoring, setRestoring] = useState(savedToken() !== undefined);

  const signOut = (why?: string) => {
    saveToken(undefined);
    setCtx((c) => {
      c?.live.close();
      return undefined;
    });
    state.setSession(undefined, undefined);
    setMessage(why);
  };

  const signIn = async (token: string) => {
    sound.unlock();
    const api = new Api(token);
    let me: ApiMe;
    let settings: ApiSettings;
    try {
      [me, settings] = await Promise.all([api.get<ApiMe>('/api/me'), api.get<ApiSettings>('/api/console')]);
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) saveToken(undefined);
      throw err;
    }
    saveToken(token);
    state.setSession(me, settings);
    const alarms = new URLSearchParams(location.search).get('alarms') === 'poll' ? 'poll' : 'stream';
    const live = new LiveConnection(api, state, { alarms, onUnauthorized: (m) => signOut(`Signed out: ${m}`) });
    live.start();
    setMessage(undefined);
    setCtx({ state, api, live, sound });
  };

  useEffect(() => {
    const t = savedToken();
    if (t === undefined) return;
    signIn(t).catch((err: Error) => setMessage(err.message)).finally(() => setRestoring(false));
  }, []);

  if (ctx === undefined) return restoring ? <p class="muted">signing in…</p> : <Login onSignIn={signIn} message={message} />;
  return <Ctx.Provider value={ctx}><Shell sound={sound} onSignOut={() => signOut()} /></Ctx.Provider>;
}
