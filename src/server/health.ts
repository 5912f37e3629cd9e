/**
 * GET /healthz: the process is up and serving HTTP (200 always).
 * GET /readyz: the process can do its work: 200 when every check passes, else 503 with the failing checks
 * (the store is open and can write, the connector specs are loaded, the workers run, and it is not shutting
 * down). A store that cannot write (disk full, I/O errors) makes it 503 until a write succeeds again.
 */
import type { Router } from '@koa/router';
import type { StoreHealth } from '../store/types.ts';
import { sendJson } from './http-errors.ts';
import { createRouter } from './routing.ts';
import { publicCode } from '../errors.ts';

export interface CheckResult {
  ok: boolean;
  detail?: string;
  [k: string]: unknown;
}

export type ReadinessChecks = () => Record<string, CheckResult>;

/** The `store` check: which tables cannot write and why (error codes, no paths), from store.health(). */
export function storeCheck(health: StoreHealth, closing = false): CheckResult {
  if (closing) return { ok: false, detail: 'closing' };
  if (health.ok) return { ok: true };
  return { ok: false, detail: health.detail ?? 'the store cannot write', failing: health.problems.map((p) => ({ table: p.table, code: publicCode(p.code), since: p.since })) };
}

export function createHealthRouter(opts: { checks: ReadinessChecks; version: string; startedAt?: number }): Router {
  const router = createRouter();
  const started = opts.startedAt ?? Date.now();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    sendJson(ctx, 200, { status: 'ok', version: opts.version, uptime_s: Math.round((Date.now() - started) / 1000) });
  });
  router.get('/readyz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const checks = opts.checks();
    const ready = Object.values(checks).every((c) => c.ok);
    sendJson(ctx, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
