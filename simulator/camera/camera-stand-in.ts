import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';

/*
 * Camera stand-ins at the OS level. The live test picture itself is the
 * `sim` capture profile (ffmpeg's lavfi testsrc2 + sine), so the agent runs
 * its real ffmpeg pipeline; here are the faults and fixtures around it.
 */

/** A v4l2 path that does not exist: what the agent sees when the camera is unplugged. */
export function missingCameraDevice(): string {
  return `/dev/video-nrec-missing-${randomBytes(4).toString('hex')}`;
}

/** Kills a process with SIGKILL, as a crash or the OOM killer would; false when it was already gone. */
export function kill9(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a short playable MPEG-TS clip (test picture and tone), like a chunk
 * ffmpeg wrote but never listed. The output is deterministic, so clips meant
 * to differ need different `toneHz`.
 */
export function makeTestClip(ffmpegPath: string, path: string, seconds = 1, toneHz = 1000, size = '160x120'): Promise<void> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`,
    '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=16000`,
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', path,
  ];
  return new Promise((resolve, reject) => {
    execFile(ffmpegPath, args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (err !== null) reject(new Error(`making test clip ${path} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/** Writes random bytes under a chunk name: a file no player can read. */
export async function writeGarbageChunk(path: string, bytes = 4096): Promise<void> {
  await writeFile(path, randomBytes(bytes));
}
