import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from '../../../lib/logger.js';
import type { ContactBook } from './book.js';
import { ContactsError, loadContacts, type ReadSecret } from './load.js';

export interface ContactsWatchEvents {
  /** A changed file that checked out: the new book is current. */
  reload: [ContactBook];
  /** A changed file that did not: the previous book stays current. */
  invalid: [ContactsError];
}

export interface ContactsWatchOptions {
  logger: Logger;
  /** How often the file is stat'ed besides fs.watch (which misses changes on some file systems and editors). Default 5000 ms. */
  statIntervalMs?: number;
  readSecret?: ReadSecret;
}

/**
 * The contacts file, kept current: loaded at open (a bad file is an error
 * then, so the ingest refuses to start with it), then reloaded when it changes
 * — fs.watch on its directory (editors and config management replace the file
 * by renaming, which a watch on the file itself loses) plus a periodic stat.
 * A changed file that does not check out is logged with every problem and
 * the previous configuration stays in force. Secret files are read again
 * with each reload: touch the contacts file after rotating a secret.
 */
export class ContactsWatch extends EventEmitter<ContactsWatchEvents> {
  readonly file: string;
  #book: ContactBook;
  readonly #o: ContactsWatchOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #lastStat = '';
  /** Hash and stat of the last file we tried (good or bad), so an unchanged bad file is reported once; a touch reloads (secret rotation). */
  #lastTried: string;
  #checking: Promise<void> | undefined;
  #again = false;

  private constructor(file: string, book: ContactBook, o: ContactsWatchOptions) {
    super();
    this.file = file;
    this.#book = book;
    this.#o = o;
    this.#lastTried = '';
  }

  /** Loads the file (throws ContactsError naming every problem) and starts watching it. */
  static async open(path: string, o: ContactsWatchOptions): Promise<ContactsWatch> {
    const file = resolve(path);
    const book = await loadContacts(file, { readSecret: o.readSecret });
    const w = new ContactsWatch(file, book, o);
    for (const warning of book.warnings) o.logger.warn({ file }, `contacts file: ${warning}`);
    w.#lastStat = await statKey(file);
    w.#lastTried = `${book.hash}|${w.#lastStat}`;
    w.#start();
    return w;
  }

  get current(): ContactBook {
    return this.#book;
  }

  /** Looks at the file now (the watch and the timer call this; so may a test or a SIGHUP handler). */
  check(): Promise<void> {
    if (this.#checking !== undefined) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = this.#check().finally(() => {
      this.#checking = undefined;
      if (this.#again) {
        this.#again = false;
        void this.check();
      }
    });
    return this.#checking;
  }

  close(): void {
    this.#watcher?.close();
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
  }

  #start(): void {
    const name = basename(this.file);
    try {
      this.#watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        // Writers take several events per save: look once they are done.
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => void this.check(), 100);
        this.#debounce.unref();
      });
      this.#watcher.on('error', (err) => this.#o.logger.warn({ file: this.file, err: err.message }, 'contacts file: fs.watch failed; the periodic check still sees changes'));
    } catch (err) {
      this.#o.logger.warn({ file: this.file, err: (err as Error).message }, 'contacts file: cannot watch its directory; the periodic check still sees changes');
    }
    this.#timer = setInterval(() => {
      void statKey(this.file).then((k) => {
        if (k !== this.#lastStat) void this.check();
      });
    }, this.#o.statIntervalMs ?? 5000);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    this.#lastStat = await statKey(this.file);
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    const tried = `${text === undefined ? 'unreadable' : createHash('sha256').update(text).digest('hex')}|${this.#lastStat}`;
    if (tried === this.#lastTried) return;
    this.#lastTried = tried;
    try {
      const book = await loadContacts(this.file, { readSecret: this.#o.readSecret });
      this.#book = book;
      for (const warning of book.warnings) this.#o.logger.warn({ file: this.file }, `contacts file: ${warning}`);
      this.#o.logger.info(book.summary(), 'contacts file reloaded');
      this.emit('reload', book);
    } catch (err) {
      if (!(err instanceof ContactsError)) throw err;
      this.#o.logger.error({ file: this.file, problems: err.problems }, 'contacts file changed but is invalid; keeping the previous configuration');
      this.emit('invalid', err);
    }
  }
}

async function statKey(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? ''}`;
  }
}
