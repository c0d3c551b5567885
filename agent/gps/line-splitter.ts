// Splits a serial byte stream into lines for the NMEA parser. Bytes in, one
// string per line out (object mode). Any of CR, LF or CR LF ends a line and
// empty lines are dropped. Memory stays bounded whatever arrives: a line that
// grows past `maxLineLength` without a terminator (a receiver at the wrong
// baud rate, binary UBX/SiRF frames) is discarded up to the next terminator
// and counted. Bytes are decoded as latin1, which maps every byte to one
// character and never fails; non-ASCII garbage then reaches the parser as
// characters it rejects.

import { Transform, type TransformCallback } from 'node:stream';

export interface LineSplitterOptions {
  /** Longest line kept, bytes, terminator excluded (default 256: NMEA allows 82, vendors a little more). */
  maxLineLength?: number;
}

/** Default LineSplitterOptions.maxLineLength. */
export const LINE_SPLITTER_MAX_LENGTH = 256;

const CR = 13;
const LF = 10;

/** Transform stream: Buffer chunks in, line strings out, bounded line length. */
export class LineSplitter extends Transform {
  readonly #max: number;
  readonly #pending: Buffer;
  #length = 0;
  #discarding = false;
  #lines = 0;
  #discarded = 0;

  constructor(options: LineSplitterOptions = {}) {
    super({ readableObjectMode: true, writableObjectMode: false });
    const max = options.maxLineLength ?? LINE_SPLITTER_MAX_LENGTH;
    if (!Number.isInteger(max) || max < 1) throw new Error(`maxLineLength must be a positive integer, got ${max}`);
    this.#max = max;
    this.#pending = Buffer.alloc(max);
  }

  /** Lines emitted so far. */
  get lines(): number {
    return this.#lines;
  }

  /** Bytes held for the line in progress; never more than maxLineLength. */
  get buffered(): number {
    return this.#length;
  }

  /** Overlong lines discarded so far. */
  get discarded(): number {
    return this.#discarded;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    let from = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b !== CR && b !== LF) continue;
      this.#append(bytes, from, i);
      this.#endLine();
      from = i + 1;
    }
    this.#append(bytes, from, bytes.length);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#endLine();
    callback();
  }

  #append(bytes: Buffer, from: number, to: number): void {
    if (this.#discarding || to <= from) return;
    if (this.#length + (to - from) > this.#max) {
      this.#discarding = true;
      this.#discarded++;
      this.#length = 0;
      return;
    }
    bytes.copy(this.#pending, this.#length, from, to);
    this.#length += to - from;
  }

  #endLine(): void {
    if (!this.#discarding && this.#length > 0) {
      this.#lines++;
      this.push(this.#pending.toString('latin1', 0, this.#length));
    }
    this.#discarding = false;
    this.#length = 0;
  }
}
