/**
 * Request log, latency, fault injection (fail / slow / drop the next n requests) and a rolling-window
 * rate limit, as one koa middleware that sits in front of everything else in a fake.
 */
import type Koa from 'koa';
import { sleep } from './http.ts';

export interface RateLimit {
  requests: number;
  perSeconds: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  /** Final status; 0 when the socket was dropped without a response. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** When the request arrived (ms since epoch) and how long it took. */
  at: number;
  ms: number;
}

/** The request log: a plain array (newest last) with `clear()`; older entries drop off past the cap. */
export type RequestLog = LoggedRequest[] & { clear(): void };

export function createRequestLog(): RequestLog {
  const log = [] as unknown as RequestLog;
  Object.defineProperty(log, 'clear', {
    value: () => {
      log.length = 0;
    },
    enumerable: false,
  });
  return log;
}

export interface FailOptions {
  /** Retry-After header value in seconds (sent with any status when given). */
  retryAfter?: number;
  /** Only requests with this method (e.g. POST: fail a write, not the read before it). */
  method?: string;
}

export interface DropOptions {
  /** Send the status line, headers and part of a body before destroying the socket. */
  midBody?: boolean;
}

export interface Faults {
  /** Answer the next n requests with `status` (default 503) in the API's error format. */
  failNext(n: number, status?: number, opts?: FailOptions): void;
  /** Delay the next n requests by `ms` before handling them. */
  slowNext(n: number, ms: number): void;
  /** Destroy the socket of the next n requests instead of answering. */
  dropNext(n: number, opts?: DropOptions): void;
  clear(): void;
}

type Fault =
  | { kind: 'fail'; status: number; retryAfter?: number; method?: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'drop'; midBody: boolean };

export class FaultController implements Faults {
  private queue: Fault[] = [];

  failNext(n: number, status = 503, opts: FailOptions = {}): void {
    for (let i = 0; i < n; i++) this.queue.push({ kind: 'fail', status, retryAfter: opts.retryAfter, ...(opts.method ? { method: opts.method.toUpperCase() } : {}) });
  }

  slowNext(n: number, ms: number): void {
    for (let i = 0; i < n; i++) this.queue.push({ kind: 'slow', ms });
  }

  dropNext(n: number, opts: DropOptions = {}): void {
    for (let i = 0; i < n; i++) this.queue.push({ kind: 'drop', midBody: opts.midBody === true });
  }

  clear(): void {
    this.queue.length = 0;
  }

  /** The fault for the request now arriving, if any (faults are used up in the order they were added; one for another method waits). */
  take(method?: string): Fault | undefined {
    const i = this.queue.findIndex((f) => f.kind !== 'fail' || f.method === undefined || f.method === method);
    return i < 0 ? undefined : this.queue.splice(i, 1)[0];
  }

  get pending(): number {
    return this.queue.length;
  }
}

/** Counts requests over a rolling window; `check` answers 0 (allowed) or the seconds to wait. */
export class RateLimiter {
  private stamps: number[] = [];
  private head = 0;

  constructor(private limit?: RateLimit) {}

  set(limit: RateLimit | undefined): void {
    this.limit = limit;
    this.stamps = [];
    this.head = 0;
  }

  get current(): RateLimit | undefined {
    return this.limit;
  }

  check(now: number): number {
    const lim = this.limit;
    if (!lim || lim.requests <= 0) return 0;
    const window = lim.perSeconds * 1000;
    while (this.head < this.stamps.length && this.stamps[this.head]! <= now - window) this.head++;
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
    if (this.stamps.length - this.head >= lim.requests) {
      const oldest = this.stamps[this.head]!;
      return Math.max(1, Math.ceil((oldest + window - now) / 1000));
    }
    this.stamps.push(now);
    return 0;
  }
}

export interface ControlOptions {
  log: RequestLog;
  logLimit: number;
  faults: FaultController;
  limiter: RateLimiter;
  latency: () => number;
  /** Render an error in the API's format. */
  errorBody: (status: number, message: string) => unknown;
  /** Content type of those error bodies (default application/json). */
  errorContentType?: string;
  /** Headers every response carries (e.g. an echoed version header). */
  commonHeaders?: (ctx: Koa.Context) => Record<string, string>;
  /** Paths that skip the rate limit (e.g. a health check). */
  exempt?: (ctx: Koa.Context) => boolean;
}

export function controlMiddleware(o: ControlOptions): Koa.Middleware {
  return async (ctx, next) => {
    const at = Date.now();
    let dropped = false;
    try {
      const lat = o.latency();
      if (lat > 0) await sleep(lat);
      const fault = o.faults.take(ctx.method);
      if (fault?.kind === 'slow') await sleep(fault.ms);
      if (fault?.kind === 'drop') {
        dropped = true;
        ctx.respond = false;
        const res = ctx.res;
        if (fault.midBody) {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': '4096' });
          res.write('{"items":[{"id":"', () => setImmediate(() => ctx.req.socket.destroy()));
        } else {
          ctx.req.socket.destroy();
        }
        return;
      }
      if (o.commonHeaders) ctx.set(o.commonHeaders(ctx));
      if (fault?.kind === 'fail') {
        ctx.status = fault.status;
        if (fault.retryAfter !== undefined) ctx.set('Retry-After', String(fault.retryAfter));
        if (o.errorContentType) ctx.type = o.errorContentType;
        ctx.body = o.errorBody(fault.status, `injected fault: ${fault.status}`);
        return;
      }
      if (!o.exempt?.(ctx)) {
        const wait = o.limiter.check(at);
        if (wait > 0) {
          ctx.status = 429;
          ctx.set('Retry-After', String(wait));
          if (o.errorContentType) ctx.type = o.errorContentType;
          ctx.body = o.errorBody(429, `rate limit exceeded: ${o.limiter.current!.requests} requests per ${o.limiter.current!.perSeconds} s; retry in ${wait} s`);
          return;
        }
      }
      await next();
    } finally {
      const entry: LoggedRequest = {
        method: ctx.method,
        path: ctx.path,
        query: { ...ctx.query },
        status: dropped ? 0 : ctx.status,
        headers: { ...ctx.headers },
        at,
        ms: Date.now() - at,
      };
      o.log.push(entry);
      if (o.log.length > o.logLimit) o.log.splice(0, Math.max(1, Math.floor(o.logLimit / 10)));
    }
  };
}
