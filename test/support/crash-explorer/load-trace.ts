import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { FsModel, TRACED_CALLS } from './fs-model.js';
import { MqttStreams } from './mqtt-streams.js';
import { StraceParser } from './strace-parse.js';

/** The strace command line the model needs, to put before the traced program. */
export function straceArgs(output: string): string[] {
  // -ttt: absolute times (compared with the platform's clock); -T: durations; -yy: paths and
  // sockets of descriptors; -x: non-ASCII in hex; -s: whole buffers; -X raw: flags as numbers.
  return ['-f', '-ttt', '-T', '-yy', '-x', '-s', '16777216', '-X', 'raw', '-o', output, '-e', `trace=${TRACED_CALLS.join(',')}`];
}

export interface LoadedTrace {
  model: FsModel;
  mqtt: MqttStreams;
  lines: number;
  /** Epoch seconds of each line that completed a call the model or the streams used (by line). */
  times: Map<number, number>;
}

/**
 * Replays a trace file over a snapshot of the traced root: the file-system model
 * and the MQTT packets, both on one line counter.
 */
export async function loadTrace(o: { trace: string; root: string; snapshot: string; brokerPort: number }): Promise<LoadedTrace> {
  const model = FsModel.fromSnapshot(o.root, o.snapshot);
  const mqtt = new MqttStreams(o.brokerPort);
  const times = new Map<number, number>();
  const parser = new StraceParser(
    (c) => {
      times.set(c.end, c.time);
      model.apply(c);
      mqtt.apply(c);
    },
    (e) => model.exit(e),
  );
  const rl = createInterface({ input: createReadStream(o.trace, { encoding: 'latin1', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const line of rl) parser.push(line);
  return { model, mqtt, lines: parser.lines, times };
}
