/**
 * The console's only way to the server: the documented admin API (and /console/session), same origin, with
 * the HttpOnly session cookie the browser sends by itself. The CSRF token lives in this module's memory only
 * (never in storage) and goes as X-CSRF-Token on every change.
 */

export interface ApiErrorBody {
  code: string;
  message: string;
  param?: string;
  hint?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
  get code(): string {
    return this.body.code;
  }
  get param(): string | undefined {
    return this.body.param;
  }
}

let csrf: string | undefined;
let onSignedOut: () => void = () => undefined;

export function setCsrf(token: string | undefined): void {
  csrf = token;
}
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

const SAFE = new Set(['GET', 'HEAD']);

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (!SAFE.has(method) && csrf) headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, { code: 'network', message: 'taxbridge did not answer: is `taxbridge serve` running?' });
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json && typeof json.message === 'string' ? json : { code: `http_${res.status}`, message: `the server answered ${res.status}` });
    if (res.status === 401 && !path.startsWith('/console/session')) onSignedOut();
    throw err;
  }
  return json as T;
}

/** GET with query parameters (empty values left out). */
export function get<T = any>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return api<T>('GET', s ? `${path}?${s}` : path);
}

/**
 * Server-sent `status` events of an admin stream (same origin, the session cookie goes by itself). `onState`
 * gets each state; `onDown` is called once when the stream cannot be used (refused, dropped, not supported),
 * so the page polls instead. Sign-out ends the stream with `signed_out`. Returns the close function.
 */
export function subscribe<T>(path: string, onState: (state: T) => void, onDown: () => void): () => void {
  if (typeof EventSource === 'undefined') {
    onDown();
    return () => undefined;
  }
  const es = new EventSource(path);
  let down = false;
  const fail = () => {
    es.close();
    if (!down) {
      down = true;
      onDown();
    }
  };
  es.addEventListener('status', (e) => onState(JSON.parse((e as MessageEvent<string>).data) as T));
  es.addEventListener('signed_out', () => {
    fail();
    onSignedOut();
  });
  es.addEventListener('error', fail);
  return () => {
    down = true;
    es.close();
  };
}
