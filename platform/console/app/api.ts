/*
 * The API from the browser: the bearer token from this tab's sessionStorage
 * (never a cookie, never the URL — except the stream's query parameter,
 * which EventSource needs and the server redacts from its log).
 */

const TOKEN_KEY = 'nrec.token';
/** A read that takes longer is given up (and retried by whoever asked); a POST may wait for a device's answer (?wait=, at most 30 s). */
const TIMEOUT_MS = { GET: 15_000, POST: 40_000 } as const;

export function savedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveToken(token: string | undefined): void {
  if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An answer other than 2xx, with the API's code and message. */
export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiFailure';
    this.status = status;
    this.code = code;
  }
}

export class Api {
  readonly token: string;

  constructor(token: string) {
    this.token = token;
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: { ...this.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        // A request that hangs (a dead connection nobody noticed) must not hold the console's picture back for ever.
        signal: AbortSignal.timeout(TIMEOUT_MS[method]),
      });
    } catch (err) {
      throw new ApiFailure(0, 'network', `the platform cannot be reached (${(err as Error).message})`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { code?: string; message?: string };
      throw new ApiFailure(res.status, e.code ?? 'error', e.message ?? `HTTP ${res.status}`);
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** A binary download (the evidence bundle) as a Blob. */
  async blob(path: string): Promise<Blob> {
    const res = await fetch(path, { headers: this.headers, cache: 'no-store' });
    if (!res.ok) {
      const e = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new ApiFailure(res.status, e.code ?? 'error', e.message ?? `HTTP ${res.status}`);
    }
    return res.blob();
  }
}

/** A path with query parameters (undefined ones left out). */
export function withQuery(path: string, q: Record<string, string | number | boolean | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s === '' ? path : `${path}?${s}`;
}
