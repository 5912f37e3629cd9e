/**
 * The koa application of `taxbridge serve`: one middleware chain in front of every part's router.
 *
 *   access log + in-flight count -> JSON error boundary -> JSON 404 -> 503 while shutting down
 *   -> 404 for non-canonical paths (./routing.ts) -> /healthz /readyz /openapi.json -> POST /webhooks/:token
 *   -> the routers, in the order given (routers with catch-alls under a prefix go last)
 *
 * Authentication happens on each router (admin routers check the admin token after a route matched, the tax
 * API its API key), never by a path prefix here: routing and authentication cannot disagree about a path.
 */
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import type { Router } from '@koa/router';
import type { Logger } from '../log/index.ts';
import { createHealthRouter, type ReadinessChecks } from './health.ts';
import { errorBoundary, notFoundFallback, safePath, sendJson } from './http-errors.ts';
import { openApiDocument } from './openapi.ts';
import { canonicalPaths } from './routing.ts';
import { observeHttpRequest } from '../metrics/hooks.ts';

export interface AppOptions {
  log: Logger;
  version: string;
  readiness: ReadinessChecks;
  /** Mounted first (the webhook receiver). */
  publicRouters?: Router[];
  /** Mounted after the public routers, in order; each authenticates its own routes. */
  routers: Router[];
  isShuttingDown?: () => boolean;
  publicUrl?: string;
}

export interface App {
  koa: Koa;
  /** Requests being answered now. */
  inFlight(): number;
  /** Resolves when no request is being answered. */
  drained(): Promise<void>;
  /** Every route mounted (method and koa path), for the OpenAPI completeness check. */
  routes(): Array<{ method: string; path: string }>;
}

export function createApp(opts: AppOptions): App {
  const koa = new Koa({ proxy: false });
  koa.silent = true; // errors are answered and logged by errorBoundary; koa must not print stacks
  const log = opts.log;
  let inFlight = 0;
  let waiters: Array<() => void> = [];

  koa.use(async (ctx, next) => {
    inFlight++;
    const started = process.hrtime.bigint();
    const requestId = /^[\w.-]{1,100}$/.test(ctx.get('x-request-id')) ? ctx.get('x-request-id') : randomUUID();
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      // Responses finished during a shutdown close their connection: no keep-alive to wait for.
      if (opts.isShuttingDown?.()) ctx.set('Connection', 'close');
      inFlight--;
      const quiet = ctx.path === '/healthz' || ctx.path === '/readyz';
      const fields = { method: ctx.method, path: safePath(ctx.path).slice(0, 300), status: ctx.status, duration_ms: Number(process.hrtime.bigint() - started) / 1e6, request_id: requestId };
      observeHttpRequest(ctx, fields.duration_ms / 1000);
      if (ctx.status >= 500) log.warn('request', fields);
      else if (quiet) log.debug('request', fields);
      else log.info('request', fields);
      if (inFlight === 0) for (const w of waiters.splice(0)) w();
    }
  });
  koa.use(errorBoundary(log));
  koa.use(notFoundFallback());
  koa.use(async (ctx, next) => {
    if (opts.isShuttingDown?.() && ctx.path !== '/healthz' && ctx.path !== '/readyz') {
      ctx.set('Connection', 'close');
      ctx.set('Retry-After', '5');
      return sendJson(ctx, 503, { type: 'api_error', code: 'shutting_down', message: 'the server is shutting down; retry shortly' });
    }
    await next();
  });

  koa.use(canonicalPaths());

  const health = createHealthRouter({ checks: opts.readiness, version: opts.version });
  koa.use(health.routes());
  const doc = JSON.stringify(openApiDocument({ version: opts.version, serverUrl: opts.publicUrl }));
  koa.use(async (ctx, next) => {
    if (ctx.path !== '/openapi.json') return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      return sendJson(ctx, 405, { type: 'api_error', code: 'method_not_allowed', message: `${ctx.method} is not allowed on /openapi.json; use GET` });
    }
    ctx.type = 'application/json';
    ctx.body = doc;
  });

  for (const r of opts.publicRouters ?? []) koa.use(r.routes()).use(r.allowedMethods());
  for (const r of opts.routers) koa.use(r.routes());

  const mounted = [health, ...(opts.publicRouters ?? []), ...opts.routers];
  return {
    koa,
    routes: () => [
      { method: 'GET', path: '/openapi.json' },
      ...mounted.flatMap((r) => r.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: String(layer.path) })))),
    ],
    inFlight: () => inFlight,
    drained: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  };
}
