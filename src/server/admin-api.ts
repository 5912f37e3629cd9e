/**
 * The admin HTTP API as a koa router (composed by `taxbridge serve`), behind `Authorization: Bearer <admin
 * token>` (compared in constant time). Bodies are JSON; answers are `{"data": ...}`; errors are
 * `{"type":"api_error","code":...,"message":...,"param"?:...}` with 401 unauthorized_access,
 * 400 validation_errors, 404 not_found, 409 conflict, 413/415 as the tax API.
 *
 *   GET    /admin/organizations                                   list
 *   POST   /admin/organizations                                   {name, mode: test|live, origin_address?, default_product_tax_code?}
 *   GET    /admin/organizations/:org                              one
 *   PATCH  /admin/organizations/:org                              {name?, origin_address?, default_product_tax_code? (null clears)}
 *   GET    /admin/organizations/:org/registrations                list
 *   POST   /admin/organizations/:org/registrations                {country, state?, tax_calculation? (true), effective_from? (today)}
 *   PATCH  /admin/organizations/:org/registrations/:reg           {tax_calculation?, effective_from?}; :reg is an id or "US-TX"/"DE"
 *   DELETE /admin/organizations/:org/registrations/:reg
 *   GET    /admin/organizations/:org/product_tax_codes            list
 *   POST   /admin/organizations/:org/product_tax_codes            {product_id, tax_code, connection_id?} (upsert)
 *   DELETE /admin/organizations/:org/product_tax_codes?product_id=..&connection_id=..
 *   GET    /admin/organizations/:org/keys                         list (prefix, created, last used, revoked; never hashes)
 *   POST   /admin/organizations/:org/keys                         {name?, rate_limit_per_second?} -> 201 with `key` (shown once)
 *   GET    /admin/keys?organization_id=..                          all keys (or one organization's)
 *   DELETE /admin/keys/:key                                       revoke (:key is the id "key_…" or the prefix "tb_test_…")
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { isTaxbridgeError, publicCode } from '../errors.ts';
import { publicKeyView } from '../tax/keys.ts';
import type { TaxService } from '../tax/service.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { adminBody, adminQuery } from './admin-body.ts';
import type { OrganizationsCreateRequest, OrganizationsKeyCreateRequest, OrganizationsKeyListQuery, OrganizationsProductTaxCodeDeleteQuery, OrganizationsProductTaxCodeRequest, OrganizationsRegistrationRequest, OrganizationsRegistrationUpdateRequest, OrganizationsUpdateRequest } from './admin-api-types.generated.ts';
import { BodyError, readJsonBody } from './raw-body.ts';
import { createAdminRouter } from './routing.ts';

export interface AdminApiRouterOptions {
  service: TaxService;
  /** The admin token (at least 16 characters), or a check of presented tokens (the server's stored-hash check). */
  adminToken: AdminCredential;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  onError?: (err: unknown, ctx: Context) => void;
}


function send(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.set('Content-Type', 'application/json; charset=utf-8');
  ctx.body = JSON.stringify(body);
}


export function createAdminApiRouter(opts: AdminApiRouterOptions): Router {
  const { service } = opts;
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const router = createAdminRouter(opts.adminToken);

  const fail = (ctx: Context, e: unknown): void => {
    if (e instanceof BodyError) {
      if (e.status === 413) ctx.set('Connection', 'close');
      return send(ctx, e.status, { type: 'api_error', code: 'validation_errors', message: e.message });
    }
    if (isTaxbridgeError(e)) {
      const status = e.code === 'not_found' ? 404 : e.code === 'conflict' ? 409 : e.code === 'unauthorized_access' ? 401 : e.code === 'invalid_input' ? 400 : 0;
      if (status) {
        const field = e.details?.field;
        return send(ctx, status, {
          type: 'api_error',
          code: e.code === 'invalid_input' ? 'validation_errors' : publicCode(e.code),
          message: e.message,
          ...(typeof field === 'string' ? { param: field } : {}),
          ...(e.hint ? { hint: e.hint } : {}),
        });
      }
    }
    if (opts.onError) opts.onError(e, ctx);
    else process.stderr.write(`taxbridge admin: ${ctx.method} ${ctx.path}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    send(ctx, 500, { type: 'api_error', code: 'internal_server_error', message: 'an internal error occurred' });
  };

  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (e) {
      fail(ctx, e);
    }
  });

  /** The body checked by schemas/admin-api/organizations.schema.json#/$defs/<def>. */
  const body = async <T>(ctx: Context, def: string): Promise<T> => adminBody<T>('organizations', def, await readJsonBody(ctx.req, maxBody));
  const org = (ctx: Context): string => String(ctx.params.org);

  router.get('/organizations', async (ctx) => send(ctx, 200, { data: await service.listOrganizations() }));
  router.post('/organizations', async (ctx) => {
    const b = await body<OrganizationsCreateRequest>(ctx, 'create_request');
    const created = await service.createOrganization({
      name: b.name,
      mode: b.mode,
      origin_address: b.origin_address,
      default_product_tax_code: b.default_product_tax_code ?? undefined,
      local_rates_unknown: b.local_rates_unknown,
    });
    send(ctx, 201, { data: created });
  });
  router.get('/organizations/:org', async (ctx) => send(ctx, 200, { data: await service.getOrganization(org(ctx)) }));
  router.patch('/organizations/:org', async (ctx) => {
    const b = await body<OrganizationsUpdateRequest>(ctx, 'update_request');
    send(ctx, 200, { data: await service.updateOrganization(org(ctx), b) });
  });

  router.get('/organizations/:org/registrations', async (ctx) => send(ctx, 200, { data: (await service.getOrganization(org(ctx))).registrations }));
  router.post('/organizations/:org/registrations', async (ctx) => {
    const b = await body<OrganizationsRegistrationRequest>(ctx, 'registration_request');
    const r = await service.addRegistration(org(ctx), { ...b, state: b.state ?? undefined, effective_from: b.effective_from ?? undefined });
    send(ctx, 201, { data: r.registration });
  });
  router.patch('/organizations/:org/registrations/:reg', async (ctx) => {
    const b = await body<OrganizationsRegistrationUpdateRequest>(ctx, 'registration_update_request');
    const r = await service.updateRegistration(org(ctx), String(ctx.params.reg), b);
    send(ctx, 200, { data: r.registration });
  });
  router.delete('/organizations/:org/registrations/:reg', async (ctx) => {
    await service.removeRegistration(org(ctx), String(ctx.params.reg));
    ctx.status = 204;
  });

  router.get('/organizations/:org/product_tax_codes', async (ctx) => {
    const o = await service.getOrganization(org(ctx));
    send(ctx, 200, { data: { default_product_tax_code: o.default_product_tax_code ?? null, products: o.product_tax_codes } });
  });
  router.post('/organizations/:org/product_tax_codes', async (ctx) => {
    const b = await body<OrganizationsProductTaxCodeRequest>(ctx, 'product_tax_code_request');
    const r = await service.setProductTaxCode(org(ctx), { ...b, connection_id: b.connection_id ?? undefined });
    send(ctx, 200, { data: r.product_tax_code });
  });
  router.delete('/organizations/:org/product_tax_codes', async (ctx) => {
    const { product_id, connection_id } = adminQuery<OrganizationsProductTaxCodeDeleteQuery>('organizations', 'product_tax_code_delete_query', ctx.query);
    await service.removeProductTaxCode(org(ctx), product_id, connection_id);
    ctx.status = 204;
  });

  router.get('/organizations/:org/keys', async (ctx) => {
    await service.getOrganization(org(ctx));
    send(ctx, 200, { data: (await service.listApiKeys(org(ctx))).map(publicKeyView) });
  });
  router.post('/organizations/:org/keys', async (ctx) => {
    const b = ctx.request.length || ctx.get('content-type') ? await body<OrganizationsKeyCreateRequest>(ctx, 'key_create_request') : {};
    const r = await service.createApiKey(org(ctx), { name: b.name ?? undefined, rate_limit_per_second: b.rate_limit_per_second ?? undefined });
    send(ctx, 201, { data: { key: r.key, ...publicKeyView(r.doc) }, message: 'Store this key now: it is shown only once.' });
  });
  router.get('/keys', async (ctx) => {
    const { organization_id } = adminQuery<OrganizationsKeyListQuery>('organizations', 'key_list_query', ctx.query);
    send(ctx, 200, { data: (await service.listApiKeys(organization_id)).map(publicKeyView) });
  });
  router.delete('/keys/:key', async (ctx) => {
    const doc = await service.revokeApiKey(String(ctx.params.key));
    send(ctx, 200, { data: publicKeyView(doc) });
  });

  router.all('/*rest', async (ctx) => {
    send(ctx, 404, { type: 'api_error', code: 'not_found', message: `no such admin endpoint: ${ctx.method} ${ctx.path.slice(0, 200)}` });
  });

  return router;
}
