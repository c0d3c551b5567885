import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDuration } from '../../model/age.js';
import { playOrder, timeline, type Chunk } from '../../model/visit.js';
import type { ApiVisitCheck } from '../../model/types.js';
import { useConsole } from '../hooks.js';

/*
 * Evidence playback: the verified chunks of a visit, in order, through
 * mpegts.js (MPEG-TS demuxed into the browser's Media Source Extensions),
 * one chunk after the other. Missing and rejected chunks are never played:
 * the timeline shows them, and the gaps, where they fall. mpegts.js is
 * loaded only when a visit is opened (it is most of the console's weight).
 */

type Mpegts = typeof import('mpegts.js').default;
type MpegtsPlayer = ReturnType<Mpegts['createPlayer']>;

let loader: Promise<Mpegts> | undefined;
const loadMpegts = (): Promise<Mpegts> => (loader ??= import('mpegts.js').then((m) => m.default));

export function Player({ check }: { check: ApiVisitCheck }) {
  const { api } = useConsole();
  const video = useRef<HTMLVideoElement>(null);
  const player = useRef<MpegtsPlayer | undefined>(undefined);
  const order = playOrder(check);
  const [current, setCurrent] = useState<number | undefined>(undefined);
  const [ended, setEnded] = useState<number[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [pos, setPos] = useState(0);

  const stop = () => {
    const p = player.current;
    player.current = undefined;
    if (p !== undefined) {
      p.pause();
      p.unload();
      p.detachMediaElement();
      p.destroy();
    }
  };

  const play = async (c: Chunk) => {
    setError(undefined);
    const mpegts = await loadMpegts();
    if (!mpegts.isSupported()) {
      setError('this browser cannot play MPEG-TS (no Media Source Extensions with H.264)');
      return;
    }
    stop();
    const p = mpegts.createPlayer(
      { type: 'mpegts', isLive: false, url: `/api/devices/${encodeURIComponent(check.deviceId)}/visits/${encodeURIComponent(check.sessionId)}/chunks/${c.index}` },
      { headers: api.headers, enableWorker: false, lazyLoad: false, autoCleanupSourceBuffer: true },
    );
    p.on(mpegts.Events.ERROR, (type: string, detail: string, info: { msg?: string } | undefined) => {
      setError(`chunk ${c.index} could not be played: ${type} ${detail}${info?.msg !== undefined ? ` (${info.msg})` : ''}`);
    });
    player.current = p;
    setCurrent(c.index);
    p.attachMediaElement(video.current!);
    p.load();
    await Promise.resolve(p.play()).catch((err: Error) => setError(`playback did not start: ${err.message}`));
  };

  useEffect(() => {
    const v = video.current!;
    const onEnded = () => {
      setEnded((e) => (current === undefined || e.includes(current) ? e : [...e, current]));
      const i = order.findIndex((c) => c.index === current);
      const next = order[i + 1];
      if (next !== undefined) void play(next);
    };
    const onTime = () => setPos(v.currentTime);
    v.addEventListener('ended', onEnded);
    v.addEventListener('timeupdate', onTime);
    return () => {
      v.removeEventListener('ended', onEnded);
      v.removeEventListener('timeupdate', onTime);
    };
  }, [current, check]);

  useEffect(() => stop, []);

  const t = timeline(check);
  const playing = check.chunks.find((c) => c.index === current);
  return (
    <section class="player">
      <video ref={video} muted playsInline controls data-chunk={current ?? ''} data-ended={ended.join(',')} />
      <div class="buttons">
        <button type="button" data-action="play" disabled={order.length === 0} onClick={() => void play(order[0])}>
          Play {order.length} verified chunk{order.length === 1 ? '' : 's'}
        </button>
        {playing !== undefined ? <span>chunk {playing.index} · {pos.toFixed(1)} s of {formatDuration((playing.durationS ?? 0) * 1000)}</span> : null}
      </div>
      {error !== undefined ? <p class="error" role="alert">{error}</p> : null}
      <div class="timeline-bar" aria-label="recording timeline">
        {t.segments.map((s, i) => (
          <button type="button" key={i} class={`seg ${s.kind} ${s.state ?? ''}${s.index === current ? ' current' : ''}`}
            style={{ left: `${(s.left * 100).toFixed(3)}%`, width: `${Math.max(0.4, s.width * 100).toFixed(3)}%` }}
            title={s.kind === 'gap' ? `gap: ${s.reason}` : `chunk ${s.index}: ${s.state}${s.reason !== undefined ? ` — ${s.reason}` : ''}`}
            disabled={s.kind === 'gap' || s.state !== 'verified'}
            onClick={() => {
              const c = order.find((x) => x.index === s.index);
              if (c !== undefined) void play(c);
            }} />
        ))}
      </div>
    </section>
  );
}
