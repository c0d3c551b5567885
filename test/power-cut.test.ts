// Power-cut safety of the agent, proved in the spirit of ALICE (Pillai et al.,
// "All File Systems Are Not Created Equal", OSDI 2014). The model and its limits
// are in docs/crash-safety.md.
//
// 1. A visit: the agent (a child process, real Mosquitto, the in-process ingest,
//    the simulator's camera with 4 s chunks) runs once untraced and is killed
//    (-9), leaving a recording session open; its data directory is then copied
//    (the snapshot) and the agent started again under `strace -f`, which records
//    every file and socket call of it and its ffmpeg while it resumes the
//    session, answers commands, raises an SOS, keeps going while the platform is
//    away (everything it sends waits unconfirmed), gets the SOS acknowledged and
//    ends the visit. It is then killed -9 again.
// 2. From the snapshot and the trace, the explorer builds the data directory a
//    power cut could leave at many points of the run (before and after each
//    fsync, after each rename or unlink, after each PUBACK and alarm), in four
//    variants each: only what was synced; everything written; unsynced writes
//    in order up to one torn at a 4 KiB boundary, with directory entries undone
//    after a point; and every unsynced 4 KiB block old or new at random, with
//    each directory's unsynced entries undone after a point of its own.
// 3. Every distinct state is read with the agent's own code (outbox, commands,
//    SOS store, restart store and chain resumption, upload queue, chunk hashes)
//    and checked against what the agent had promised by that point, read from
//    the trace: every message it had published, every command it had PUBACKed,
//    every chunk it had signed and published or committed, the SOS state it had
//    saved. A sample is started for real on a fresh broker and a fresh ingest
//    whose store holds what the platform had at that point: the agent must get
//    ready, deliver every promised message and chunk, answer every PUBACKed
//    command, re-send a raised SOS, and `nrec verify` must pass on the store.
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { Ingest } from '../platform/ingest/index.js';
import { inboundTopic } from '../protocol/index.js';
import { AgentProcess } from '../simulator/agent-process.js';
import { agentHistory, promisedBy } from './support/crash-explorer/agent-promises.js';
import { lostInState, readAgentState, type PlatformAt } from './support/crash-explorer/agent-state.js';
import { buildCrashState, VARIANTS, type Variant } from './support/crash-explorer/crash-state.js';
import { loadTrace, straceArgs, type LoadedTrace } from './support/crash-explorer/load-trace.js';
import { PlatformRecord, seedStore } from './support/crash-explorer/platform-record.js';
import { killTree } from './support/process-tree.js';
import { Cleanup, makeTempDir, Mosquitto, nextStored, requireTool, waitFor, World } from './support/index.js';
import { runVerify, storedSessions } from './support/evidence.js';

const logger = createLogger('test', { level: 'warn' });
const SEED = Number(process.env.NREC_CRASH_SEED ?? 20140604);
/** Distinct crash states to explore (each checked with the agent's code). */
const TARGET_STATES = Number(process.env.NREC_CRASH_STATES ?? 240);
/** Of those, how many the agent is started on for real. */
const FULL_STARTS = Number(process.env.NREC_CRASH_STARTS ?? 16);

interface Sample { at: number; variant: Variant; time: number }

describe('power cut', () => {
  const cleanup = new Cleanup();
  afterAll(() => cleanup.run());

  it(`loses nothing acknowledged or signed in ${TARGET_STATES}+ crash states`, async () => {
    requireTool('strace');
    // NREC_CRASH_KEEP=1 keeps the work directory (trace, snapshot, logs) for a look at a failure.
    const work = cleanup.add(await makeTempDir('nrec-power-cut-'), (d) => (process.env.NREC_CRASH_KEEP === '1' ? process.stdout.write(`kept ${d.path}\n`) : d.remove()));
    const mosquitto = cleanup.add(await Mosquitto.start(), (m) => m.dispose());
    const world = cleanup.add(await World.create({ logger, workDir: work.path, brokerUrl: mosquitto.url, media: true, autoFeed: true }), (w) => w.close());
    const platform = new PlatformRecord();
    platform.attach(world.ingest);
    const dataDir = String(world.agentConfig.dataDir);
    const deviceId = world.deviceId;

    // --- the untraced start: a recording session left open by a kill -9
    await world.agent.waitForLine('agent ready', 30_000);
    await waitFor('agent birth', () => world.ingest.stats.accepted.status, 30_000);
    await command(world.ingest, deviceId, 'record.start', { visitId: 'visit-1' });
    await nextStored(world.ingest, 'media', () => true, 30_000);
    await killTree(world.agent.pid!);
    await world.agent.exited();
    const snapshot = join(work.path, 'snapshot');
    await cp(dataDir, snapshot, { recursive: true, preserveTimestamps: true });

    // --- the traced run, starting while the platform is away: everything the agent sends is
    // PUBACKed by the broker and waits unconfirmed, the first command comes queued at the broker.
    await world.stopIngest();
    const platformClient = await mqtt.connectAsync(mosquitto.url, { clientId: 'power-cut-platform', protocolVersion: 4, reconnectPeriod: 0 });
    cleanup.add(platformClient, (c) => c.endAsync());
    await publishCommand(platformClient, deviceId, 'ping', {});
    const trace = join(work.path, 'agent.trace');
    const traced = new AgentProcess(world.agent.configPath, join(work.path, 'agent-traced.log'), { wrap: ['strace', ...straceArgs(trace)], env: { UV_USE_IO_URING: '0' } });
    world.agent = traced;
    traced.spawn();
    const tracedAt = Date.now();
    await traced.waitForLine('agent ready', 60_000);
    await traced.waitForLine('sysfs watching button line', 30_000);
    await traced.waitForLine('"command":"ping"', 30_000);
    await world.pressSos();
    const raised = JSON.parse(await traced.waitForLine('"msg":"SOS raised"', 30_000)) as { alarmId: string };
    await publishCommand(platformClient, deviceId, 'locate', {});
    await publishCommand(platformClient, deviceId, 'ping', {});
    await sleepUntil(tracedAt + 20_000); // SOS re-sends and the SOS session's chunks pile up unconfirmed
    await world.startIngest((i) => platform.attach(i));
    await waitFor('the alarm at the platform', () => world.ingest.stats.accepted.alarm, 30_000);
    await command(world.ingest, deviceId, 'alarm.ack', { alarmId: raised.alarmId });
    await command(world.ingest, deviceId, 'record.stop', { visitId: 'visit-1' });
    await sleepUntil(tracedAt + 34_000);
    await killTree(traced.pid!, { keepRoot: true }); // the agent and its ffmpeg; strace then exits
    await traced.exited();
    await sleepUntil(Date.now() + 1000); // what was on its way to the ingest lands
    await world.stopIngest();

    // --- replay
    const loaded = await loadTrace({ trace, root: dataDir, snapshot, brokerPort: mosquitto.port });
    const history = agentHistory(loaded, deviceId);
    expect(history.pubacks.length, 'the trace shows the agent PUBACKing commands').toBeGreaterThanOrEqual(4);
    expect(history.sosSaves.some((s) => s.state.phase === 'raised' && s.durableAt !== undefined), 'the trace shows the SOS saved').toBe(true);
    expect(history.chunks.some((c) => c.how === 'published') && history.chunks.some((c) => c.how === 'committed'), 'the trace shows chunks signed').toBe(true);
    const storeDb = join(world.storeDir, 'platform.db');
    const platformAt = (at: number): PlatformAt => platform.at(timeOf(loaded, at), storeDb, deviceId);

    // --- every state: the agent's own code reads it
    const points = crashPoints(loaded, history);
    const seen = new Set<string>();
    const explored: Sample[] = [];
    const lost: string[] = [];
    for (let stride = Math.max(1, Math.floor(points.length / Math.ceil(TARGET_STATES / VARIANTS.length))), pass = 0; explored.length < TARGET_STATES && pass < 8; pass++, stride = Math.max(1, Math.floor(stride / 2))) {
      for (let i = pass % 2 === 0 ? 0 : Math.floor(stride / 2); i < points.length && explored.length < TARGET_STATES; i += stride) {
        const at = points[i];
        for (const variant of VARIANTS) {
          const state = buildCrashState(loaded.model, at, variant, SEED, dataDir);
          if (seen.has(state.digest)) continue;
          seen.add(state.digest);
          const problems = lostInState(promisedBy(history, at), platformAt(at), await readAgentState(dataDir, deviceId, logger));
          explored.push({ at, variant, time: timeOf(loaded, at) });
          for (const p of problems) lost.push(`line ${at + 1} (${variant}): ${p}`);
        }
      }
    }
    expect(lost, 'crash states that lose what was acknowledged or signed').toEqual([]);
    expect(explored.length).toBeGreaterThanOrEqual(200);

    // --- a sample, started for real
    const starts = pickStarts(explored, FULL_STARTS);
    const startProblems: string[] = [];
    for (const s of starts) {
      startProblems.push(...(await startOn(s)).map((p) => `line ${s.at + 1} (${s.variant}): ${p}`));
    }
    expect(startProblems, 'crash states the agent did not recover from').toEqual([]);
    const summary = {
      crashStates: explored.length, started: starts.length, lost: lost.length + startProblems.length,
      crashPoints: new Set(explored.map((e) => e.at)).size, candidatePoints: points.length, traceLines: loaded.lines,
      syncs: loaded.model.syncLines.length, pubacks: history.pubacks.length, published: history.published.length,
      chunksSigned: new Set(history.chunks.map((c) => c.link)).size, sosSaves: history.sosSaves.length, seed: SEED,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);

    /** Starts the agent on one crash state with a fresh broker and a fresh ingest holding the platform's store at that point. */
    async function startOn(s: Sample): Promise<string[]> {
      const problems: string[] = [];
      buildCrashState(loaded.model, s.at, s.variant, SEED, dataDir);
      const promised = promisedBy(history, s.at);
      const had = platformAt(s.at);
      const view = await readAgentState(dataDir, deviceId, logger);
      buildCrashState(loaded.model, s.at, s.variant, SEED, dataDir); // afresh: reading it may have checkpointed a database
      const broker = await Mosquitto.start();
      const storeDir = join(work.path, `replay-store-${s.at}-${s.variant}`);
      seedStore(world.storeDir, storeDir, s.time, deviceId);
      const ingest = await Ingest.open({ brokerUrl: broker.url, storeDir, logger });
      const got = new PlatformRecord();
      got.attach(ingest);
      await ingest.start();
      const configPath = join(work.path, 'replay-agent.json');
      await writeFile(configPath, JSON.stringify({ ...world.agentConfig, mqtt: { ...(world.agentConfig.mqtt as object), url: broker.url } }), { mode: 0o600 });
      const agent = new AgentProcess(configPath, join(work.path, `replay-${s.at}-${s.variant}.log`));
      agent.spawn();
      try {
        await agent.waitForLine('agent ready', 30_000);
        const wantIds = promised.published.map((m) => m.body.id).filter((id) => !had.ids.has(id));
        const wantRequests = promised.pubacks.map((c) => c.requestId).filter((id) => !had.requestIds.has(id));
        const wantLinks = promised.chunks.map((c) => c.link).filter((l) => !had.links.has(l));
        const sos = view.sos.state?.phase === 'raised' ? view.sos.state.alarmId : undefined;
        const pending = () => {
          const ids = new Set(got.events.flatMap((e) => (e.stream === 'media' ? e.msg.acks ?? [] : [e.msg.id ?? ''])));
          const reqs = new Set(got.events.filter((e) => e.stream === 'result').map((e) => e.msg.requestId));
          const links = new Set(storedLinks(storeDir, deviceId));
          return [
            ...wantIds.filter((id) => !ids.has(id)).map((id) => `published message ${id} never reached the ingest`),
            ...wantRequests.filter((r) => !reqs.has(r)).map((r) => `PUBACKed command ${r} never answered`),
            ...wantLinks.filter((l) => !links.has(l)).map((l) => `signed chunk ${l.slice(0, 12)}… never stored`),
            ...(sos !== undefined && !got.events.some((e) => e.stream === 'alarm' && (e.msg as { alarmId?: string }).alarmId === sos) ? [`raised SOS ${sos} not re-sent`] : []),
          ];
        };
        const left = await waitFor('every promise kept', () => (pending().length === 0 ? [] : undefined), 45_000, 100).catch(() => pending());
        problems.push(...left);
        if (!agent.running) problems.push(`agent exited: ${agent.lines.slice(-5).join(' | ')}`);
      } catch (err) {
        problems.push((err as Error).message);
      } finally {
        await killTree(agent.pid!);
        await agent.exited();
        await ingest.stop();
        await broker.dispose();
      }
      // The chain at the platform: everything stored verifies; a session may still be open (no manifest yet).
      const v = await runVerify(storeDir, ['--json']);
      const report = JSON.parse(v.output) as { problems: Array<{ sessionId: string; index?: number; problem: string }> };
      for (const p of report.problems) if (!p.problem.startsWith('no manifest')) problems.push(`verify: ${p.sessionId}${p.index === undefined ? '' : `/${p.index}`}: ${p.problem}`);
      await rm(storeDir, { recursive: true, force: true });
      return problems;
    }
  }, 420_000);
});

/** Sends a command through the ingest and waits for its stored result. */
async function command(ingest: Ingest, deviceId: string, name: string, args: Record<string, unknown> = {}): Promise<void> {
  const id = `pc-${name.replaceAll('.', '_')}-${Math.random().toString(36).slice(2, 10)}`;
  const answered = nextStored<{ requestId: string }>(ingest, 'result', (r) => r.requestId === id, 30_000);
  await ingest.sendCommand(deviceId, name, args, 600_000, id);
  await answered;
}

/** Sends a command while the ingest is away (a platform client of its own). */
async function publishCommand(client: mqtt.MqttClient, deviceId: string, name: string, args: Record<string, unknown>): Promise<void> {
  const now = Date.now();
  const id = `pc-off-${name.replaceAll('.', '_')}-${Math.random().toString(36).slice(2, 10)}`;
  const msg = { v: 1, id, deviceId, bootId: 'power-cut-platform', seq: 0, ts: now, name, expiresAt: now + 600_000, args };
  await client.publishAsync(inboundTopic(deviceId, 'req'), JSON.stringify(msg), { qos: 1 });
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
}

/** The time of a crash point: that of the last call completed on or before its line. */
function timeOf(t: LoadedTrace, at: number): number {
  for (let l = at; l >= 0; l--) {
    const time = t.times.get(l);
    if (time !== undefined) return time;
  }
  return 0;
}

/** Points worth crashing at: just before and just after every fsync, after each directory change, PUBACK, alarm and SOS save. */
function crashPoints(t: LoadedTrace, h: ReturnType<typeof agentHistory>): number[] {
  const set = new Set<number>();
  for (const s of t.model.syncLines) {
    set.add(s.start - 1);
    set.add(s.end);
  }
  for (const op of t.model.dirOps) set.add(op.end);
  for (const p of h.pubacks) set.add(p.line);
  for (const m of h.published) if (m.stream === 'alarm' || m.stream === 'result') set.add(m.line);
  for (const s of h.sosSaves) set.add(s.line);
  return [...set].filter((l) => l >= 0).sort((a, b) => a - b);
}

/** `n` states spread over the run, every variant represented. */
function pickStarts(explored: Sample[], n: number): Sample[] {
  const byLine = [...explored].sort((a, b) => a.at - b.at);
  const out: Sample[] = [];
  for (let i = 0; i < n && i < byLine.length; i++) {
    const slice = byLine.slice(Math.floor((i * byLine.length) / n), Math.floor(((i + 1) * byLine.length) / n));
    out.push(slice.find((s) => s.variant === VARIANTS[i % VARIANTS.length]) ?? slice[0]);
  }
  return out;
}

/** Links of every chunk in the store's chains. */
function storedLinks(storeDir: string, deviceId: string): string[] {
  return storedSessions(storeDir, deviceId).flatMap((s) => s.chain.map((r) => r.link));
}
