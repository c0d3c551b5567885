import { join } from 'node:path';

/*
 * Pure builders of capture command lines. Every profile ends in the segment
 * muxer writing MPEG-TS chunks (a TS file cut short by a crash still plays)
 * and the CSV segment list on stdout, which is how the recorder learns that a
 * chunk is complete: ffmpeg lists a segment only after closing it.
 */

export type ProfileName = 'usb' | 'csi' | 'audio' | 'sim';
export type VideoEncoder = 'h264_v4l2m2m' | 'libx264';
export type AudioCodec = 'aac' | 'opus';

/** Chunk file names: prefix + zero-padded global index + .ts. */
export const CHUNK_PREFIX = 'chunk-';
export const CHUNK_PATTERN = `${CHUNK_PREFIX}%06d.ts`;
export const CHUNK_NAME_RE = /^chunk-(\d{6,})\.ts$/;

export interface CaptureSettings {
  profile: ProfileName;
  /** v4l2 device for `usb`. */
  videoDevice: string;
  /** ALSA device name (e.g. `default`, `hw:1,0`). */
  audioDevice: string;
  /** Capture the microphone alongside video (`usb`, `csi`). */
  withAudio: boolean;
  width: number;
  height: number;
  fps: number;
  videoBitrateK: number;
  audioBitrateK: number;
  audioCodec: AudioCodec;
  audioRate: number;
  /** Chunk length in seconds; keyframes are forced on this grid so chunks cut on time. */
  chunkS: number;
  encoder: VideoEncoder;
  rpicamPath: string;
}

/** Defaults that work on a Pi with a USB webcam and in the simulator. */
export const DEFAULT_CAPTURE: CaptureSettings = {
  profile: 'usb',
  videoDevice: '/dev/video0',
  audioDevice: 'default',
  withAudio: true,
  width: 1280,
  height: 720,
  fps: 15,
  videoBitrateK: 1500,
  audioBitrateK: 32,
  audioCodec: 'aac',
  audioRate: 16000,
  chunkS: 10,
  encoder: 'libx264',
  rpicamPath: 'rpicam-vid',
};

export interface CommandSpec {
  cmd: string;
  args: string[];
}

/** What to run: one command, or a source whose stdout feeds ffmpeg's stdin (the last command is always ffmpeg). */
export interface CapturePlan {
  commands: CommandSpec[];
  /** Device paths that must exist before starting (a missing camera is a fault, not a crash loop). */
  devices: string[];
  /** Container and codecs, recorded in every chunk's metadata. */
  codec: string;
  /** How to stop without losing the open chunk: `q` on ffmpeg's stdin, or SIGINT to the source so ffmpeg sees EOF. */
  gracefulStop: 'q' | 'sigint-source';
}

/** Builds the commands for one profile; `startNumber` keeps chunk names unique across ffmpeg restarts. */
export function buildCapturePlan(ffmpegPath: string, s: CaptureSettings, outDir: string, startNumber: number): CapturePlan {
  checkSettings(s);
  const head = ['-hide_banner', '-nostats', '-loglevel', 'warning'];
  const out = segmentOutput(s, outDir, startNumber);
  const audioIn = ['-thread_queue_size', '1024', '-f', 'alsa', '-ac', '1', '-ar', String(s.audioRate), '-i', s.audioDevice];
  const audioTag = s.audioCodec === 'aac' ? 'aac' : 'opus';
  switch (s.profile) {
    case 'sim':
      return {
        commands: [{
          cmd: ffmpegPath,
          args: [
            ...head,
            '-re', '-f', 'lavfi', '-i', `testsrc2=size=${s.width}x${s.height}:rate=${s.fps}`,
            '-re', '-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=${s.audioRate}`,
            ...videoEncoderArgs(s), ...audioEncoderArgs(s), ...out,
          ],
        }],
        devices: [],
        codec: `mpegts/h264/${audioTag}`,
        gracefulStop: 'q',
      };
    case 'usb':
      return {
        commands: [{
          cmd: ffmpegPath,
          args: [
            ...head,
            '-thread_queue_size', '512', '-f', 'v4l2', '-framerate', String(s.fps), '-video_size', `${s.width}x${s.height}`, '-i', s.videoDevice,
            ...(s.withAudio ? audioIn : []),
            ...videoEncoderArgs(s), ...(s.withAudio ? audioEncoderArgs(s) : ['-an']), ...out,
          ],
        }],
        devices: [s.videoDevice],
        codec: s.withAudio ? `mpegts/h264/${audioTag}` : 'mpegts/h264',
        gracefulStop: 'q',
      };
    case 'csi':
      // The camera encodes on its own ISP; ffmpeg only copies and cuts, so the
      // intra period is set to the chunk length for segments to cut on time.
      return {
        commands: [
          {
            cmd: s.rpicamPath,
            args: [
              '-t', '0', '--nopreview', '--codec', 'h264', '--inline',
              '--width', String(s.width), '--height', String(s.height), '--framerate', String(s.fps),
              '--bitrate', String(s.videoBitrateK * 1000), '--intra', String(Math.max(1, Math.round(s.fps * s.chunkS))), '-o', '-',
            ],
          },
          {
            cmd: ffmpegPath,
            args: [
              ...head,
              '-f', 'h264', '-framerate', String(s.fps), '-i', 'pipe:0',
              ...(s.withAudio ? audioIn : []),
              '-c:v', 'copy', ...(s.withAudio ? audioEncoderArgs(s) : ['-an']), ...out,
            ],
          },
        ],
        devices: [],
        codec: s.withAudio ? `mpegts/h264/${audioTag}` : 'mpegts/h264',
        gracefulStop: 'sigint-source',
      };
    case 'audio':
      return {
        commands: [{ cmd: ffmpegPath, args: [...head, ...audioIn, '-vn', ...audioEncoderArgs(s), ...out] }],
        devices: [],
        codec: `mpegts/${audioTag}`,
        gracefulStop: 'q',
      };
  }
}

/** Video encoder arguments with keyframes forced on the chunk grid. */
export function videoEncoderArgs(s: CaptureSettings): string[] {
  const gop = String(Math.max(1, Math.round(s.fps * s.chunkS)));
  const rate = [`-b:v`, `${s.videoBitrateK}k`, '-maxrate', `${s.videoBitrateK}k`, '-bufsize', `${s.videoBitrateK * 2}k`];
  const keys = ['-g', gop, '-force_key_frames', `expr:gte(t,n_forced*${s.chunkS})`];
  if (s.encoder === 'h264_v4l2m2m') return ['-c:v', 'h264_v4l2m2m', '-pix_fmt', 'yuv420p', ...rate, ...keys];
  return ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', ...rate, ...keys];
}

/** Audio encoder arguments. */
export function audioEncoderArgs(s: CaptureSettings): string[] {
  const codec = s.audioCodec === 'aac' ? ['-c:a', 'aac'] : ['-c:a', 'libopus', '-application', 'voip'];
  return [...codec, '-b:a', `${s.audioBitrateK}k`, '-ar', String(s.audioCodec === 'opus' ? 48000 : s.audioRate), '-ac', '1'];
}

/**
 * The segment muxer writing numbered TS chunks and the CSV list on stdout.
 * flush_packets: without it the inner muxer held a whole 2 s chunk in memory
 * (the file stayed 0 bytes until closed, measured with ffmpeg 5.1), so a
 * kill -9 lost the open chunk; with it the file grows packet by packet.
 */
export function segmentOutput(s: CaptureSettings, outDir: string, startNumber: number): string[] {
  return [
    '-f', 'segment', '-segment_time', String(s.chunkS), '-segment_format', 'mpegts', '-segment_format_options', 'flush_packets=1',
    '-reset_timestamps', '1', '-strftime', '0',
    '-segment_start_number', String(startNumber), '-segment_list', 'pipe:1', '-segment_list_type', 'csv',
    join(outDir, CHUNK_PATTERN),
  ];
}

/** Encoder names from `ffmpeg -hide_banner -encoders` output. */
export function parseEncoderList(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*[VAS][A-Z.]{5}\s+([A-Za-z0-9_]+)\s/.exec(line);
    if (m !== null) names.add(m[1]);
  }
  return names;
}

/** Chunk index from a chunk file name, or undefined for other files. */
export function chunkIndexOf(file: string): number | undefined {
  const m = CHUNK_NAME_RE.exec(file);
  return m === null ? undefined : Number(m[1]);
}

function checkSettings(s: CaptureSettings): void {
  const positive: Array<keyof CaptureSettings> = ['width', 'height', 'fps', 'videoBitrateK', 'audioBitrateK', 'audioRate', 'chunkS'];
  for (const k of positive) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`capture setting ${k}=${String(v)} must be a positive number`);
  }
  if (s.profile === 'usb' && !s.videoDevice.startsWith('/')) throw new Error(`capture setting videoDevice="${s.videoDevice}" must be an absolute device path`);
}
