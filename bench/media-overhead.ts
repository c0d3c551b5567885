// How much CPU does the agent spend on evidence, next to ffmpeg's own work?
// The real agent (child process) records 720p15 with the simulator's camera (lavfi test
// picture + tone, libx264 ultrafast) for 60 s and uploads through Mosquitto to the ingest.
// Ours: the agent process's CPU time (user+sys, ffmpeg excluded: it is a separate process).
// Baseline: ffmpeg's CPU time over the same window. Also the agent's peak RSS (VmHWM).
// Fairness: lavfi generates the test picture in ffmpeg, which makes ffmpeg's share larger
// than a camera's would be; the encode dominates either way.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createLogger } from '../lib/logger.js';
import { World } from '../simulator/world.js';
import { Mosquitto } from '../test/support/mosquitto.js';
import { report, round } from './_report.js';

const SECONDS = Number(process.env.SECONDS ?? 60);
// PART_BYTES=65536 (say) compares a fixed part size with the default automatic one.
const TICK = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime
}

/** CPU seconds per thread name (main JS thread, libuv pool, V8 workers, …). */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / TICK;
    } catch {
      // thread exited
    }
  }
  return out;
}

function peakRssKb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

function ffmpegPids(parent: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(parent), 'ffmpeg'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const broker = await Mosquitto.start();
const logger = createLogger('bench', { level: 'silent' });
const world = await World.create({
  logger,
  brokerUrl: broker.url,
  media: true,
  buttonBackend: 'gpiod-v2', // the production default backend (event-driven; sysfs polls every 10 ms)
  agentConfig: { media: { width: 1280, height: 720, fps: 15, videoKbps: 1500, chunkS: 10, bufferS: 30 }, ...(process.env.PART_BYTES ? { transport: { partBytes: Number(process.env.PART_BYTES) } } : {}) },
});
try {
  await world.agent.waitForLine('"msg":"agent ready"', 60_000);
  const pid = world.agent.pid!;
  let ff: number[] = [];
  const until = Date.now() + 30_000;
  while (ff.length === 0 && Date.now() < until) {
    ff = ffmpegPids(pid);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (ff.length === 0) throw new Error('ffmpeg did not start under the agent');
  await world.ingest.sendCommand(world.deviceId, 'record.start', { visitId: 'bench-visit' });
  const a0 = cpuSeconds(pid);
  const t0 = threadCpu(pid);
  const f0 = ff.map(cpuSeconds);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const agentCpu = cpuSeconds(pid) - a0;
  const ffmpegCpu = ff.map((p, i) => cpuSeconds(p) - f0[i]).reduce((a, b) => a + b, 0);
  const rss = peakRssKb(pid);
  const t1 = threadCpu(pid);
  const byThread = Object.fromEntries(Object.entries(t1).map(([k, v]) => [k, round(v - (t0[k] ?? 0))]).filter(([, v]) => Number(v) > 0));
  report({
    bench: 'media-overhead',
    seconds: SECONDS,
    video: '1280x720@15 libx264 ultrafast + AAC, 10 s chunks, uploaded',
    agent_cpu_s: round(agentCpu),
    ffmpeg_cpu_s: round(ffmpegCpu),
    agent_peak_rss_mb: round(rss / 1024, 1),
    agent_cpu_by_thread_s: byThread,
    evidence_chunks_stored: world.ingest.stats.accepted.media ?? 0,
    ratio: round(agentCpu / ffmpegCpu, 3),
  });
} finally {
  await world.close();
  await broker.dispose();
}
