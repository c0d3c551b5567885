/** One line of ffmpeg's CSV segment list: a closed chunk and its times relative to the run's start. */
export interface SegmentEntry {
  file: string;
  startS: number;
  endS: number;
}

/**
 * Turns the CSV segment list, arriving in arbitrary pieces on a pipe, into
 * entries. ffmpeg quotes a name holding a comma or quote, doubling quotes.
 */
export class SegmentListParser {
  #partial = '';

  /** Feeds text; returns the complete entries it finished, and reasons for lines it could not read. */
  push(text: string): { entries: SegmentEntry[]; errors: string[] } {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    const entries: SegmentEntry[] = [];
    const errors: string[] = [];
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      if (line === '') continue;
      const e = parseSegmentLine(line);
      if (typeof e === 'string') errors.push(e);
      else entries.push(e);
    }
    return { entries, errors };
  }
}

/** Parses `name,start,end`; returns a reason string when the line is not one. */
export function parseSegmentLine(line: string): SegmentEntry | string {
  let file: string;
  let rest: string;
  if (line.startsWith('"')) {
    let i = 1;
    file = '';
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) return `segment list line has an unterminated quote: ${line}`;
      file += line.slice(i, q);
      if (line[q + 1] === '"') {
        file += '"';
        i = q + 2;
        continue;
      }
      rest = line.slice(q + 1);
      break;
    }
    if (!rest.startsWith(',')) return `segment list line has text after the quoted name: ${line}`;
    rest = rest.slice(1);
  } else {
    const c = line.indexOf(',');
    if (c < 0) return `segment list line has no times: ${line}`;
    file = line.slice(0, c);
    rest = line.slice(c + 1);
  }
  const times = rest.split(',');
  const startS = Number(times[0]);
  const endS = Number(times[1]);
  if (times.length !== 2 || times[0] === '' || times[1] === '' || !Number.isFinite(startS) || !Number.isFinite(endS) || endS < startS) {
    return `segment list line has bad times: ${line}`;
  }
  if (file === '') return `segment list line has an empty name: ${line}`;
  return { file, startS, endS };
}
