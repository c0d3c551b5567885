import { execFile } from 'node:child_process';

export type ProbeResult =
  | { ok: true; durationS: number; streams: string[] }
  | { ok: false; reason: string };

/** Asks ffprobe whether a media file plays: at least one decodable stream and a positive duration. */
export function probeMedia(ffprobePath: string, file: string, timeoutMs = 15_000): Promise<ProbeResult> {
  const args = ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name', '-of', 'json', file];
  return new Promise((resolve) => {
    execFile(ffprobePath, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        const why = stderr.trim().split('\n').at(-1) ?? '';
        return resolve({ ok: false, reason: `ffprobe failed on ${file}: ${why || err.message}` });
      }
      resolve(readProbeJson(file, stdout));
    });
  });
}

function readProbeJson(file: string, stdout: string): ProbeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return { ok: false, reason: `ffprobe printed no JSON for ${file}` };
  }
  const obj = typeof parsed === 'object' && parsed !== null ? (parsed as { streams?: unknown; format?: { duration?: unknown } }) : {};
  const streams = Array.isArray(obj.streams)
    ? obj.streams.map((s: { codec_type?: unknown; codec_name?: unknown }) => `${String(s.codec_type)}:${String(s.codec_name)}`)
    : [];
  const durationS = Number(obj.format?.duration);
  if (streams.length === 0) return { ok: false, reason: `${file} has no media streams` };
  if (!Number.isFinite(durationS) || durationS <= 0) return { ok: false, reason: `${file} has no playable duration` };
  return { ok: true, durationS, streams };
}
