/**
 * GET /metrics: Prometheus text format (src/metrics). Requires a bearer token: the admin token, or the
 * separate metrics token when one is configured (TAXBRIDGE_METRICS_TOKEN / metrics_token_file), so a scraper
 * can be given a token that opens nothing else. Authenticated on the router, as every admin route
 * (./routing.ts). `metrics: false` in the configuration leaves the route out (404).
 */
import type { Router } from '@koa/router';
import { enableProcessMetrics, refreshQueueGauges, registry } from '../metrics/index.ts';
import type { Store } from '../store/types.ts';
import { adminBearerAuth, toTokenCheck, type AdminTokenCheck } from './admin-bearer.ts';
import { sendJson } from './http-errors.ts';
import { createRouter } from './routing.ts';

export interface MetricsRouterOptions {
  store: Store;
  adminToken: string | AdminTokenCheck;
  /** A token that opens /metrics only. */
  metricsToken?: string | AdminTokenCheck;
  onError?: (e: unknown) => void;
}

export function createMetricsRouter(opts: MetricsRouterOptions): Router {
  enableProcessMetrics();
  const admin = toTokenCheck(opts.adminToken);
  const metrics = opts.metricsToken === undefined ? undefined : toTokenCheck(opts.metricsToken);
  const router = createRouter();
  router.get('/metrics', adminBearerAuth((t) => admin(t) || (metrics !== undefined && metrics(t))), async (ctx) => {
    try {
      await refreshQueueGauges(opts.store);
      const text = await registry.metrics();
      ctx.set('Cache-Control', 'no-store');
      ctx.type = registry.contentType;
      ctx.body = text;
    } catch (e) {
      opts.onError?.(e);
      sendJson(ctx, 503, { type: 'api_error', code: 'metrics_unavailable', message: 'the metrics could not be read (the store did not answer); retry shortly' });
    }
  });
  return router;
}
