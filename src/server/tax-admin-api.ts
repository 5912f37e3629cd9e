/**
 * An organization's tax calculations on the admin API (the console's Tax page; scripts alike):
 *
 *   GET  /admin/organizations/{org}/calculations?status=&kind=&country=&from=&to=&limit=   the log, newest first
 *   POST /admin/organizations/{org}/calculate                                              a calculation as the tax API makes it
 *
 * The calculation runs through the same TaxService.calculate as POST /tax_api/calculate_tax (same validation,
 * same Sphere-shaped answer, recorded in the log) under the admin instead of an API key: its api_key_id is
 * "admin". Errors are the tax API's Sphere-shaped ones.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { TaxbridgeError, isTaxbridgeError, publicCode } from '../errors.ts';
import { buildOrgView } from '../tax/engine.ts';
import { TaxApiError } from '../tax/errors.ts';
import type { ApiKeyDoc, TaxCalculationDoc } from '../tax/model.ts';
import { DEFAULT_TAX_API_LIMITS } from '../tax/request-schema.ts';
import type { TaxService } from '../tax/service.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { BodyError, readJsonBodyText } from './raw-body.ts';
import { adminQuery } from './admin-body.ts';
import type { OrganizationsCalculationsQuery } from './admin-api-types.generated.ts';
import { sendJson } from './http-errors.ts';
import { createAdminRouter } from './routing.ts';

export interface TaxAdminApiOptions {
  service: TaxService;
  adminToken: AdminCredential;
  maxBodyBytes?: number;
  onError?: (e: unknown, ctx: Context) => void;
}

export const ADMIN_CALCULATION_KEY_ID = 'admin';

/** A log entry without the recorded request. */
function logView(d: TaxCalculationDoc): Record<string, unknown> {
  const { request: _request, ...rest } = d;
  return { ...rest, status: d.status ?? 'calculated', kind: d.kind ?? 'invoice', line_count: d.lines.length };
}

export function createTaxAdminApiRouter(opts: TaxAdminApiOptions): Router {
  const { service } = opts;
  const router = createAdminRouter(opts.adminToken);
  const maxBody = opts.maxBodyBytes ?? DEFAULT_TAX_API_LIMITS.maxBodyBytes;

  const fail = (ctx: Context, e: unknown, sphere: boolean): void => {
    if (e instanceof TaxApiError) return sendJson(ctx, e.status, e.body());
    if (e instanceof BodyError) return sendJson(ctx, e.status, { type: 'api_error', code: 'validation_errors', message: e.message });
    if (isTaxbridgeError(e) && (e.code === 'invalid_input' || e.code === 'not_found')) {
      const field = e.details?.field;
      return sendJson(ctx, e.code === 'not_found' ? 404 : 400, { type: 'api_error', code: e.code === 'invalid_input' ? 'validation_errors' : publicCode(e.code), message: e.message, ...(typeof field === 'string' ? { param: field } : {}) });
    }
    if (opts.onError) opts.onError(e, ctx);
    if (isTaxbridgeError(e) && e.code === 'STORE_IO') {
      ctx.set('Retry-After', '5');
      return sendJson(ctx, 503, { type: 'api_error', code: 'storage_unavailable', message: 'storage is unavailable; retry shortly' });
    }
    sendJson(ctx, 500, { type: 'api_error', code: 'internal_server_error', message: sphere ? 'an internal error occurred; the request can be retried' : 'an internal error occurred' });
  };

  router.get('/organizations/:org/calculations', async (ctx) => {
    try {
      const org = await service.getOrganization(String(ctx.params.org));
      const { status, kind, from, to, ...query } = adminQuery<OrganizationsCalculationsQuery>('organizations', 'calculations_query', ctx.query);
      const country = query.country?.toUpperCase();
      const limit = query.limit ?? 50;
      const docs = await service.listCalculations(org.id, org.mode, (d) => {
        if (status && (d.status ?? 'calculated') !== status) return false;
        if (kind && (d.kind ?? 'invoice') !== kind) return false;
        if (country && d.customer_country !== country) return false;
        const day = d.created_at.slice(0, 10);
        if (from && day < from) return false;
        if (to && day > to) return false;
        return true;
      });
      docs.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1));
      sendJson(ctx, 200, { data: docs.slice(0, limit).map(logView), total: docs.length });
    } catch (e) {
      fail(ctx, e, false);
    }
  });

  router.post('/organizations/:org/calculate', async (ctx) => {
    try {
      const org = await service.getOrganization(String(ctx.params.org));
      const { value, text } = await readJsonBodyText(ctx.req, maxBody);
      const key: ApiKeyDoc = { id: ADMIN_CALCULATION_KEY_ID, organization_id: org.id, mode: org.mode, prefix: 'admin', hash: '', created_at: org.created_at };
      const { json } = await service.calculate({ key, view: buildOrgView(org) }, value, text);
      ctx.status = 200;
      ctx.set('Content-Type', 'application/json; charset=utf-8');
      ctx.body = json;
    } catch (e) {
      fail(ctx, e, true);
    }
  });

  return router;
}
