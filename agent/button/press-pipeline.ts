import { EventEmitter } from 'node:events';
import { Debouncer, type DebounceOptions } from './debounce.js';
import type { EdgeEvent, InputLine, LineFaultEvent } from './gpio-line.js';
import { PressClassifier, type PressClassifierOptions, type PressEvent } from './press-classifier.js';
import type { Scheduler } from '../../lib/scheduler.js';

/**
 * Wires an InputLine through the debouncer into the classifier. Emits `press`
 * (PressEvent) and passes on the line's `fault`/`recovered`. Holds no I/O of
 * its own: the line is started and stopped by the caller.
 */
export class PressPipeline extends EventEmitter {
  readonly #line: InputLine;
  readonly #debouncer: Debouncer;
  readonly #classifier: PressClassifier;
  readonly #onEdge = (e: EdgeEvent): void => this.#debouncer.input(e.value, e.at);
  readonly #onFault = (e: LineFaultEvent): boolean => this.emit('fault', e);
  readonly #onRecovered = (e: LineFaultEvent): boolean => this.emit('recovered', e);

  constructor(line: InputLine, scheduler: Scheduler, opts: Partial<DebounceOptions & PressClassifierOptions> = {}) {
    super();
    this.#line = line;
    this.#classifier = new PressClassifier(scheduler, (e: PressEvent) => this.emit('press', e), opts);
    this.#debouncer = new Debouncer(scheduler, (l) => this.#classifier.input(l), opts);
    line.on('edge', this.#onEdge);
    line.on('fault', this.#onFault);
    line.on('recovered', this.#onRecovered);
  }

  /** Seeds the known level (read after the line started) without counting it as a press. */
  reset(value: 0 | 1, at: number): void {
    this.#debouncer.reset(value);
    this.#classifier.reset(value, at);
  }

  /** Detaches from the line and cancels timers. */
  dispose(): void {
    this.#line.off('edge', this.#onEdge);
    this.#line.off('fault', this.#onFault);
    this.#line.off('recovered', this.#onRecovered);
    this.#debouncer.dispose();
    this.#classifier.dispose();
  }
}
