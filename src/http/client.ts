import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { TaxbridgeError } from '../errors.ts';
import { compileExpression } from '../expressions/index.ts';
import type { ConnectionContext, ConnectorSpec, PaginationSpec, RequestSpec } from '../spec/types.ts';
import { authCredentialNames, createAuthenticator, TokenRequestError, type Authenticator } from './auth.ts';
import { acquireBudget, ConnectionBudget, realSleep, type Sleep } from './budget.ts';
import { BadCredentialsError, HttpTimeoutError, InvalidResponseError, PermanentHttpError, TransientHttpError, type RequestTarget } from './errors.ts';
import { paginate, type Page, type PageState } from './pagination.ts';
import { loopbackHttpFromEnv, renderUrlTemplate } from './base-url.ts';
import { buildUrl, compileRequest, compileShared, renderRequest, type RenderedRequest } from './render.ts';
import { flattenHeaders, parseBody, type HttpResponse } from './response.ts';
import { backoffDelay, parseRetryAfter, retryPolicy } from './retry.ts';
import { own } from '../own.ts';
import { observeUpstreamAttempt, observeUpstreamRetry } from '../metrics/hooks.ts';

export interface HttpClientOptions {
  userAgent?: string;
  sleep?: Sleep;
  now?: () => number;
  random?: () => number;
  /** Called before each retry (for logs and progress displays). */
  onRetry?: (info: { attempt: number; delayMs: number; status?: number; reason: string; path: string }) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Adjusts the rendered request before it is sent (pagination adds its parameters this way). */
  adjust?: (r: RenderedRequest) => void;
  /** Send to this absolute URL instead of base URL + path + query (link-header and next-URL pagination). */
  url?: string;
  /**
   * The caller's identity of this write, stable across its retries, mixed into derived idempotency keys
   * (the write-back passes its job and the document version, so A -> B -> A gets a new key for the last A).
   */
  idempotencyScope?: string;
}

export interface PaginateOptions {
  signal?: AbortSignal;
  /** Continue from a page state saved by an earlier run (a sync checkpoint). */
  resume?: PageState;
  /** Number of the first page yielded (for a resumed run, one after the last committed page). */
  firstPage?: number;
}

export interface HttpClient {
  readonly spec: ConnectorSpec;
  readonly conn: ConnectionContext;
  readonly baseUrl: string;
  request(req: RequestSpec, context?: Record<string, unknown>, opts?: RequestOptions): Promise<HttpResponse>;
  paginate(req: RequestSpec, pagination: PaginationSpec | undefined, recordsExpr: string, context?: Record<string, unknown>, opts?: PaginateOptions): AsyncIterable<Page>;
  close(): Promise<void>;
}

const DEFAULT_USER_AGENT = 'taxbridge/0.1 (+https://taxbridge.dev)';

export function baseUrlOf(spec: ConnectorSpec, conn: ConnectionContext): string {
  if (conn.base_url) return conn.base_url;
  const env = own(spec.environments, conn.environment);
  if (!env) {
    throw new TaxbridgeError('CONNECTION_ENVIRONMENT', `${spec.title} has no ${conn.environment} environment`, {
      hint: `use one of: ${Object.keys(spec.environments).join(', ')}`,
    });
  }
  // A host per connection (`{{ settings.site }}`): rendered and checked (pattern, https) by ./base-url.ts.
  return renderUrlTemplate(env.base_url, { settings: conn.settings, settingSpecs: spec.settings, allowLoopbackHttp: conn.allow_loopback_http ?? loopbackHttpFromEnv(), what: `the ${spec.title} ${conn.environment} base URL` });
}

/** The JSONata bindings and template context every request of a connection sees. */
export function connectionContext(conn: ConnectionContext): Record<string, unknown> {
  return {
    credentials: conn.credentials,
    settings: conn.settings,
    environment: conn.environment,
    connection: { id: conn.connection_id, environment: conn.environment },
  };
}

type Failure = { kind: 'status'; status: number; retryAfterMs?: number; reason: string } | { kind: 'network'; timeout: boolean; reason: string };

export function createHttpClient(spec: ConnectorSpec, conn: ConnectionContext, opts: HttpClientOptions = {}): HttpClient {
  const http = spec.http ?? {};
  const baseUrl = baseUrlOf(spec, conn);
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const policy = retryPolicy(http.retry);
  const timeoutMs = http.timeout_ms ?? 30_000;
  const maxConcurrency = http.max_concurrency ?? 4;
  const authStatuses = new Set(http.auth_error_statuses ?? [401, 403]);
  const errorMessage = http.error_message ? compileExpression(http.error_message) : undefined;
  const shared = compileShared(http);
  const userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
  const credentialNames = authCredentialNames(spec.auth);
  const secrets = Object.values(conn.credentials).filter((v): v is string => typeof v === 'string' && v.length >= 4);
  const base = connectionContext(conn);

  const agent = new Agent({ connections: maxConcurrency + 2, keepAliveTimeout: 10_000, pipelining: 1 });
  const rateLimit = http.rate_limit ? { requests: http.rate_limit.requests, perMs: http.rate_limit.per_seconds * 1000 } : undefined;
  const budgetOpts = { rateLimit, maxConcurrency, now, sleep };
  // Injected clocks (tests) get a private budget; real clients share one per connection.
  const held = opts.now || opts.sleep ? { budget: new ConnectionBudget(budgetOpts), release() {} } : acquireBudget([spec.name, conn.connection_id, baseUrl, rateLimit?.requests, rateLimit?.perMs, maxConcurrency].join('\u0000'), budgetOpts);
  const budget = held.budget;
  const auth: Authenticator = createAuthenticator(spec.auth, { context: base, baseUrl, dispatcher: agent, timeoutMs, now, userAgent, tokens: conn.tokens });
  let closed = false;

  const redact = (text: string): string => secrets.reduce((t, s) => t.split(s).join('***'), text);

  async function upstreamMessage(body: unknown): Promise<string | undefined> {
    if (errorMessage && body !== undefined && typeof body === 'object') {
      try {
        const m = await errorMessage.evaluate(body);
        if (typeof m === 'string' && m.trim() !== '') return redact(m.trim()).slice(0, 500);
      } catch {
        // An error body of another shape than the spec expects: fall back to the raw text.
      }
    }
    if (typeof body === 'string' && body.trim() !== '') return redact(body.trim()).slice(0, 200);
    if (body !== undefined && typeof body === 'object') return redact(JSON.stringify(body)).slice(0, 200);
    return undefined;
  }

  function mayRetry(r: RenderedRequest, failure: Failure): boolean {
    // Without an idempotency key a POST/PATCH that reached the server may have been applied; only a 429
    // (refused before doing anything) is safe to repeat.
    const unsafe = (r.method === 'POST' || r.method === 'PATCH') && !r.idempotencyKey;
    if (failure.kind === 'status') return policy.statuses.has(failure.status) && (!unsafe || failure.status === 429);
    return policy.networkErrors && !unsafe;
  }

  async function send(req: RequestSpec, context: Record<string, unknown> = {}, ro: RequestOptions = {}): Promise<HttpResponse> {
    if (closed) throw new TaxbridgeError('HTTP_CLIENT_CLOSED', `the HTTP client of connection "${conn.connection_id}" is closed`);
    const compiled = compileRequest(req);
    const ctx = { ...context, ...base };
    const rendered = await renderRequest(compiled, shared, ctx, { idempotencyScope: ro.idempotencyScope });
    ro.adjust?.(rendered);
    const target: RequestTarget = { system: spec.title, connectionId: conn.connection_id, method: rendered.method, path: ro.url ? new URL(ro.url).pathname : rendered.path };
    const headers: Record<string, string> = { 'user-agent': userAgent, ...rendered.headers };
    if (rendered.idempotencyKey) headers[compiled.idempotencyHeader.toLowerCase()] = rendered.idempotencyKey;
    let attempt = 0;
    let refreshedToken = false;
    for (;;) {
      attempt++;
      const release = await budget.acquire(ro.signal);
      let outcome: Outcome;
      try {
        outcome = await attemptOnce(rendered, headers, target, ro, attempt);
      } finally {
        release();
      }
      observeUpstreamAttempt(spec.name, outcome.kind === 'response' ? outcome.status : outcome.timeout ? 'timeout' : 'network_error');
      if (outcome.kind === 'response') {
        const { status, headers: resHeaders, text } = outcome;
        const parsed = parseBody(text, resHeaders);
        if ((status >= 200 && status < 300) || rendered.okStatuses.has(status)) {
          if (!parsed.ok) throw new InvalidResponseError(target, status, parsed.reason);
          return { status, headers: resHeaders, body: parsed.body, url: outcome.url, attempts: attempt };
        }
        if (status === 401 && auth.refreshable && !refreshedToken) {
          // An access token revoked before its expiry: fetch a new one once before calling the credentials bad.
          refreshedToken = true;
          auth.invalidate();
          attempt--;
          continue;
        }
        const body = parsed.ok ? parsed.body : parsed.text;
        const message = await upstreamMessage(body);
        if (authStatuses.has(status)) throw new BadCredentialsError(target, status, message, credentialNames);
        if (!policy.statuses.has(status)) throw new PermanentHttpError(target, status, message, body);
        const retryAfterMs = parseRetryAfter(resHeaders['retry-after'], now());
        const failure: Failure = { kind: 'status', status, retryAfterMs, reason: `status ${status}${message ? ` (${message})` : ''}` };
        if (!mayRetry(rendered, failure) || attempt >= policy.maxAttempts) throw new TransientHttpError(target, attempt, { status, reason: failure.reason });
        if (status === 429 && retryAfterMs !== undefined && policy.respectRetryAfter) budget.pause(now() + Math.min(retryAfterMs, policy.maxDelayMs));
        await backOff(attempt, failure, target, retryAfterMs, ro.signal);
      } else {
        if (!mayRetry(rendered, outcome) || attempt >= policy.maxAttempts) {
          if (outcome.timeout) throw new HttpTimeoutError(target, timeoutMs, attempt);
          throw new TransientHttpError(target, attempt, { reason: outcome.reason });
        }
        await backOff(attempt, outcome, target, undefined, ro.signal);
      }
    }
  }

  async function backOff(attempt: number, failure: Failure, target: RequestTarget, retryAfterMs: number | undefined, signal?: AbortSignal): Promise<void> {
    const delayMs = backoffDelay(policy, attempt, retryAfterMs, opts.random);
    observeUpstreamRetry(spec.name, failure.kind === 'status' ? failure.status : failure.timeout ? 'timeout' : 'network_error');
    opts.onRetry?.({ attempt, delayMs, status: failure.kind === 'status' ? failure.status : undefined, reason: failure.reason, path: target.path });
    await sleep(delayMs, signal);
  }

  type Outcome = { kind: 'response'; status: number; headers: Record<string, string>; text: string; url: string } | Extract<Failure, { kind: 'network' }>;

  /** One attempt: authenticate, then headers and body under one deadline; the body is always read to the end. */
  async function attemptOnce(r: RenderedRequest, baseHeaders: Record<string, string>, target: RequestTarget, ro: RequestOptions, attempt: number): Promise<Outcome> {
    const headers = { ...baseHeaders };
    const query: Array<[string, string]> = [...r.query];
    try {
      await auth.apply(headers, query, ro.signal);
    } catch (e) {
      if (!(e instanceof TokenRequestError)) throw e;
      if (e.status !== undefined && e.status >= 400 && e.status < 500) throw new BadCredentialsError(target, e.status, redact(e.upstream), credentialNames);
      throw new TransientHttpError(target, attempt, { status: e.status, reason: redact(e.upstream) });
    }
    // Auth query parameters (api_key in query) are sent but never shown.
    const authQuery = query.slice(r.query.length);
    // A next-page URL carries its own parameters; http.query defaults are added only where it lacks them.
    const nextUrl = ro.url ? withQuery(ro.url, missingFrom(ro.url, r.defaultQuery)) : undefined;
    const url = nextUrl ? withQuery(nextUrl, authQuery) : buildUrl(baseUrl, r.path, query);
    const shownUrl = nextUrl ?? buildUrl(baseUrl, r.path, r.query);
    const deadline = attemptDeadline(timeoutMs, ro.signal);
    let res: Dispatcher.ResponseData | undefined;
    try {
      res = await undiciRequest(url, { method: r.method, headers, body: r.body, dispatcher: agent, signal: deadline.signal });
      const text = await res.body.text();
      return { kind: 'response', status: res.statusCode, headers: flattenHeaders(res.headers), text, url: shownUrl };
    } catch (e) {
      if (ro.signal?.aborted) throw ro.signal.reason;
      // Free the socket if the failure came after the headers.
      res?.body.destroy();
      const timedOut = deadline.timedOut();
      return { kind: 'network', timeout: timedOut, reason: timedOut ? `no complete response within ${timeoutMs} ms` : redact(describeNetworkError(e)) };
    } finally {
      deadline.clear();
    }
  }

  const client: HttpClient = {
    spec,
    conn,
    baseUrl,
    request: (req, context, ro) => send(req, context, ro),
    paginate: (req, pagination, recordsExpr, context = {}, po = {}) =>
      paginate({ send, origin: new URL(baseUrl).origin, target: (path) => ({ system: spec.title, connectionId: conn.connection_id, method: req.method ?? 'GET', path }) }, req, pagination, recordsExpr, context, po),
    async close() {
      if (closed) return;
      closed = true;
      held.release();
      await agent.close();
    },
  };
  return client;
}

/**
 * One attempt's deadline (headers and body) joined with the caller's signal. A cleared timer rather than
 * AbortSignal.timeout + AbortSignal.any: those leave a 30 s timer per request pending and cost ~70 us each
 * on Node 20 when combined with a long-lived signal (measured), which a 20k-request sync feels.
 */
function attemptDeadline(ms: number, outer?: AbortSignal): { signal: AbortSignal; timedOut(): boolean; clear(): void } {
  const ac = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    ac.abort(new DOMException(`no response within ${ms} ms`, 'TimeoutError'));
  }, ms);
  const onAbort = () => ac.abort(outer!.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    timedOut: () => expired,
    clear() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

function withQuery(url: string, extra: Array<[string, string]>): string {
  if (!extra.length) return url;
  const u = new URL(url);
  for (const [k, v] of extra) u.searchParams.set(k, v);
  return u.toString();
}

function missingFrom(url: string, params: Array<[string, string]>): Array<[string, string]> {
  if (!params.length) return params;
  const have = new URL(url).searchParams;
  return params.filter(([k]) => !have.has(k));
}

function describeNetworkError(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  const message = err.message ?? String(e);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
