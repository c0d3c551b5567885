/*
 * A Server-Sent Events client over node's fetch, parsing the stream as the
 * HTML standard's EventSource does (fields, comments, multi-line data, the
 * last event id), so tests see exactly what a browser would.
 */

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
  /** When it arrived (Date.now()). */
  at: number;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly status: number;
  readonly headers: Headers;
  lastEventId: string | undefined;
  #ac: AbortController;
  #waiters = new Set<() => void>();
  #ended = false;
  #error: Error | undefined;

  private constructor(res: Response, ac: AbortController) {
    this.status = res.status;
    this.headers = res.headers;
    this.#ac = ac;
    if (res.body !== null && res.ok) void this.#read(res.body);
  }

  static async open(url: string, o: { token?: string; lastEventId?: string } = {}): Promise<SseClient> {
    const ac = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    if (o.lastEventId !== undefined) headers['last-event-id'] = o.lastEventId;
    const res = await fetch(url, { headers, signal: ac.signal });
    return new SseClient(res, ac);
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    let data: string[] = [];
    let event = '';
    let id: string | undefined;
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
          if (line === '') {
            if (data.length > 0) {
              if (id !== undefined) this.lastEventId = id;
              this.events.push({ ...(id !== undefined ? { id } : {}), event: event || 'message', data: JSON.parse(data.join('\n')), at: Date.now() });
              for (const w of this.#waiters) w();
            }
            data = [];
            event = '';
            id = undefined;
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') data.push(value);
          else if (field === 'event') event = value;
          else if (field === 'id') id = value;
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') this.#error = err as Error;
    }
    this.#ended = true;
    for (const w of this.#waiters) w();
  }

  /** Whether the server ended the stream. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The first event (from index `from`) matching `pred`, waiting up to `timeoutMs`. */
  async next(pred: (e: SseEvent) => boolean, timeoutMs = 10_000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found !== undefined) return found;
      if (this.#ended) throw new Error(`the stream ended without the event (${this.#error?.message ?? 'closed'}); got ${this.events.map((e) => e.event).join(', ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such event within ${timeoutMs} ms; got ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        const self = this;
        function done() {
          clearTimeout(t);
          self.#waiters.delete(done);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  close(): void {
    this.#ac.abort();
  }
}
