import { EventEmitter, once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/*
 * The far ends the alarm desk talks to, run by the test: an HTTP server for
 * webhooks and the SMS gateway, an SMTP server for e-mail. Both record what
 * arrived, exactly as it arrived, and emit an event per arrival so tests wait
 * on events instead of sleeping.
 */

export interface ReceivedRequest {
  method: string;
  /** Path and query as requested. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The raw body as it arrived. */
  body: string;
  at: number;
}

/** A real HTTP server recording every request; `respond` decides the status (default 200). */
export class HttpReceiver extends EventEmitter<{ request: [ReceivedRequest] }> {
  readonly requests: ReceivedRequest[] = [];
  respond: (r: ReceivedRequest) => number | 'hang' = () => 200;
  readonly #server: Server;
  port = 0;

  private constructor() {
    super();
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.requests.push(r);
        const status = this.respond(r);
        this.emit('request', r);
        if (status === 'hang') return;
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  static async start(): Promise<HttpReceiver> {
    const r = new HttpReceiver();
    r.#server.listen(0, '127.0.0.1');
    await once(r.#server, 'listening');
    r.port = (r.#server.address() as AddressInfo).port;
    return r;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests to a path (without the query). */
  at(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.url.split('?')[0] === path);
  }

  /** Resolves once `count` requests match. */
  async until(what: string, match: (r: ReceivedRequest) => boolean, count = 1, timeoutMs = 30_000): Promise<ReceivedRequest[]> {
    return waitUntil(this, 'request', what, () => {
      const m = this.requests.filter(match);
      return m.length >= count ? m : undefined;
    }, timeoutMs);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface ReceivedMail {
  from: string;
  to: string[];
  user?: string;
  /** Headers (lower-case names; the first of each) and the decoded text body. */
  headers: Record<string, string>;
  text: string;
  secure: boolean;
  at: number;
}

/** Decodes quoted-printable (nodemailer's choice for long text lines). */
function decodeQp(s: string): string {
  const bytes = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    if (!(name in headers)) headers[name] = line.slice(i + 1).trim();
  }
  const body = raw.slice(split + 4);
  const cte = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  const text = cte === 'quoted-printable' ? decodeQp(body) : cte === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body;
  return { headers, text };
}

/**
 * A real SMTP server (smtp-server) with STARTTLS on the given certificate and
 * AUTH PLAIN/LOGIN against one user; it refuses AUTH before STARTTLS (the
 * library's default), so a client that does not upgrade cannot send.
 */
export class SmtpReceiver extends EventEmitter<{ mail: [ReceivedMail] }> {
  readonly mails: ReceivedMail[] = [];
  readonly #server: SMTPServer;
  port = 0;

  private constructor(tls: { key: Buffer; cert: Buffer }, auth: { user: string; pass: string }) {
    super();
    this.#server = new SMTPServer({
      key: tls.key,
      cert: tls.cert,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth: (a, _session, cb) => (a.username === auth.user && a.password === auth.pass ? cb(null, { user: a.username }) : cb(new Error('invalid credentials'))),
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const { headers, text } = parseMail(Buffer.concat(chunks).toString('latin1'));
          const mail: ReceivedMail = {
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            ...(typeof session.user === 'string' ? { user: session.user } : {}),
            headers, text, secure: session.secure, at: Date.now(),
          };
          this.mails.push(mail);
          this.emit('mail', mail);
          cb();
        });
      },
    });
  }

  static async start(tls: { keyFile: string; certFile: string }, auth: { user: string; pass: string }): Promise<SmtpReceiver> {
    const r = new SmtpReceiver({ key: await readFile(tls.keyFile), cert: await readFile(tls.certFile) }, auth);
    await new Promise<void>((resolve, reject) => {
      r.#server.once('error', reject);
      r.#server.listen(0, '127.0.0.1', () => resolve());
    });
    r.port = (r.#server.server.address() as AddressInfo).port;
    return r;
  }

  async until(what: string, match: (m: ReceivedMail) => boolean, count = 1, timeoutMs = 30_000): Promise<ReceivedMail[]> {
    return waitUntil(this, 'mail', what, () => {
      const m = this.mails.filter(match);
      return m.length >= count ? m : undefined;
    }, timeoutMs);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

async function waitUntil<T>(emitter: EventEmitter, event: string, what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const now = check();
  if (now !== undefined) return now;
  return new Promise((resolve, reject) => {
    const on = () => {
      const v = check();
      if (v === undefined) return;
      clearTimeout(t);
      emitter.off(event, on);
      resolve(v);
    };
    const t = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    emitter.on(event, on);
  });
}
