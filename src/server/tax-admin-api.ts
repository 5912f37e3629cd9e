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
import { sendJson } from './http-errors.ts';
import { createAdminRouter } from './routing.ts';

export interface TaxAdminApiOptions {
  service: TaxService;
  adminToken: AdminCredential;
  maxBodyBytes?: number;
  onError?: (e: unknown, ctx: Context) => void;
}

export const ADMIN_CALCULATION_KEY_ID = 'admin';
const STATUSES = ['calculated', 'committed', 'voided', 'refunded'] as const;
const KINDS = ['invoice', 'credit_note', 'refund'] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function badInput(message: string, field: string): TaxbridgeError {
  return new TaxbridgeError('invalid_input', message, { details: { field } });
}

function one(v: unknown, field: string, max = 40): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw badInput(`${field} must be given once`, field);
  if (v.length > max) throw badInput(`${field} is longer than ${max} characters`, field);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T | undefined {
  const s = one(v, field);
  if (s !== undefined && !allowed.includes(s as T)) throw badInput(`${field} must be one of ${allowed.join(', ')}`, field);
  return s as T | undefined;
}

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
      const status = oneOf(ctx.query.status, 'status', STATUSES);
      const kind = oneOf(ctx.query.kind, 'kind', KINDS);
      const country = one(ctx.query.country, 'country', 2)?.toUpperCase();
      if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw badInput('country must be two letters (ISO 3166-1)', 'country');
      const from = one(ctx.query.from, 'from', 10);
      const to = one(ctx.query.to, 'to', 10);
      for (const [name, v] of [['from', from], ['to', to]] as const) if (v !== undefined && !DATE.test(v)) throw badInput(`${name} must be a date YYYY-MM-DD`, name);
      const limitText = one(ctx.query.limit, 'limit', 4);
      const limit = limitText === undefined ? 50 : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw badInput('limit must be a whole number from 1 to 500', 'limit');
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
