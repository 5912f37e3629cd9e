/**
 * The Sphere-compatible tax API as a koa router (composed by `taxbridge serve`):
 *
 *   POST /tax_api/calculate_tax          X-API-KEY; Sphere's request -> Sphere's response
 *   GET  /tax_api/calculations/:id       X-API-KEY; a recorded calculation of the key's organization:
 *                                        {message, data: {sphere_tax_calculation_id, created_at, tax_date,
 *                                        currency, customer_country, customer_state, tax_total, lines[{id,
 *                                        product_id, tax_code, tax_inclusive, net_amount, tax_amount,
 *                                        taxability_reason}], request (its known fields as sent), response
 *                                        (exactly as answered)}}; 404 once retention pruned it
 *   POST /tax_api/calculations/:id/commit|void|refund   lifecycle (src/tax/lifecycle.ts); void takes {reason},
 *                                        refund {type: full|partial, lines: [{id, amount}]}
 *   POST /tax_api/exports                {from, to, countries, statuses, period, format} -> the export job;
 *   GET  /tax_api/exports/:id[/transactions.csv|/summary.csv]   (src/tax/exports)
 *   GET  /tax_api/test_credentials       X-API-KEY; 200 when the key is valid (also POST), for billing systems'
 *                                        "Test credentials" button
 *
 * Every error is Sphere's shape `{"type":"api_error","code":...,"message":...,"param"?:...}`: 401
 * unauthorized_access, 400 validation_errors / customer_tax_location_invalid / invalid_product_tax_code /
 * unsupported_feature, 404 not_found, 405 validation_errors (wrong method), 413 validation_errors (body over
 * `maxBodyBytes`, 1 MiB by default), 415 validation_errors (a Content-Type other than JSON), 429
 * too_many_requests with Retry-After (per key), 503 recording_backlog with Retry-After (calculations not yet
 * on disk fill their queue), and 500 internal_server_error without details for anything unexpected. The key may also be sent as `Authorization: Bearer <key>`.
 */
import { isStoreUnavailable } from '../store/unavailable.ts';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { isTaxbridgeError } from '../errors.ts';
import { TaxApiError, type SphereErrorBody } from '../tax/errors.ts';
import type { AuthContext, TaxService } from '../tax/service.ts';
import { tooDeepPath } from '../tax/depth.ts';
import { decodeCalculationLines, renderCalculationResponse, requestForReader } from '../tax/record.ts';
import { DEFAULT_TAX_API_LIMITS } from '../tax/request-schema.ts';
import { BodyError, readJsonBodyText } from './raw-body.ts';
import { validationError } from '../tax/errors.ts';
import type { RefundLineInput } from '../tax/lifecycle.ts';
import type { TaxCalculationDoc } from '../tax/model.ts';
import { ROW_COLUMNS, SUMMARY_COLUMNS, toCsv } from '../tax/exports/build.ts';
import { createExport, exportView, getExport } from '../tax/exports/jobs.ts';
import { createRouter } from './routing.ts';
import { taxApiValidator } from '../tax/api-schemas.ts';
import { checkSchema } from '../tax/schema-errors.ts';
import type { CalculationRecord, CalculationRecordLine, TestCredentials } from '../tax/api-types.generated.ts';

export interface TaxApiRouterOptions {
  service: TaxService;
  /** Largest accepted request body in bytes (413 above). Default 1 MiB (a 1,000-line request is ~150 KB); TAXBRIDGE_TAX_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  /** Called for unexpected errors (the client only sees internal_server_error). Default: stderr. */
  onError?: (err: unknown, ctx: Context) => void;
}

const PREFIX = '/tax_api';
const ROUTES: Record<string, string[]> = {
  [`${PREFIX}/calculate_tax`]: ['POST'],
  [`${PREFIX}/exports`]: ['POST'],
  [`${PREFIX}/test_credentials`]: ['GET', 'HEAD', 'POST'],
};

function send(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.set('Content-Type', 'application/json; charset=utf-8');
  ctx.body = JSON.stringify(body);
}

function sendError(ctx: Context, status: number, body: SphereErrorBody, headers?: Record<string, string>): void {
  if (headers) for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  send(ctx, status, body);
}

export function createTaxApiRouter(opts: TaxApiRouterOptions): Router {
  const { service } = opts;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_TAX_API_LIMITS.maxBodyBytes;
  const router = createRouter();

  const fail = (ctx: Context, e: unknown): void => {
    if (e instanceof TaxApiError) return sendError(ctx, e.status, e.body(), e.headers);
    if (e instanceof BodyError) {
      if (e.status === 413) ctx.set('Connection', 'close'); // do not read the rest of an oversized body
      return sendError(ctx, e.status, { type: 'api_error', code: 'validation_errors', message: e.message });
    }
    if (opts.onError) opts.onError(e, ctx);
    else process.stderr.write(`taxbridge tax_api: ${ctx.method} ${ctx.path}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    // The disk refuses writes (full, I/O errors): a condition that passes, as /readyz says; retry later.
    if (isStoreUnavailable(e)) {
      ctx.set('Retry-After', '5');
      return sendError(ctx, 503, { type: 'api_error', code: 'storage_unavailable', message: 'the calculation could not be recorded because storage is unavailable; retry shortly' });
    }
    sendError(ctx, 500, { type: 'api_error', code: 'internal_server_error', message: 'an internal error occurred; the request can be retried' });
  };

  const authed = (handler: (ctx: Context, auth: AuthContext) => Promise<void>) => {
    return async (ctx: Context): Promise<void> => {
      try {
        const header = ctx.get('x-api-key') || bearer(ctx.get('authorization'));
        const auth = await service.authenticate(header || undefined);
        if (!auth) {
          throw new TaxApiError(401, 'unauthorized_access', header ? 'the API key is not valid or has been revoked' : 'missing API key: send it in the X-API-KEY header');
        }
        const rl = service.rateLimit(auth);
        if (!rl.ok) {
          throw new TaxApiError(429, 'too_many_requests', `rate limit of ${rl.limit} requests per second exceeded for this API key; retry after ${rl.retryAfter} s`, {
            headers: { 'Retry-After': String(rl.retryAfter) },
          });
        }
        await handler(ctx, auth);
      } catch (e) {
        fail(ctx, e);
      }
    };
  };

  router.post(
    `${PREFIX}/calculate_tax`,
    authed(async (ctx, auth) => {
      const { value, text } = await readJsonBodyText(ctx.req, maxBody);
      const { json } = await service.calculate(auth, value, text);
      ctx.status = 200;
      ctx.set('Content-Type', 'application/json; charset=utf-8');
      // A string, not a Buffer: Node writes it behind the header text straight from a stack buffer, where a
      // Buffer of this size (> 4 KiB, past the pool) is a fresh ArrayBuffer per response (measured with
      // bench:tax: 8 µs less main-thread CPU per calculation as a string).
      ctx.body = json;
    }),
  );

  router.get(
    `${PREFIX}/calculations/:id`,
    authed(async (ctx, auth) => {
      const doc = await service.getCalculation(auth, String(ctx.params.id));
      if (!doc) throw new TaxApiError(404, 'not_found', service.missingCalculationMessage(String(ctx.params.id)));
      const answer: CalculationRecord = {
        message: 'Tax calculation retrieved',
        data: {
          sphere_tax_calculation_id: doc.id,
          created_at: doc.created_at,
          tax_date: doc.tax_date,
          currency: doc.currency,
          customer_country: doc.customer_country ?? null,
          customer_state: doc.customer_state ?? null,
          tax_total: doc.tax_total,
          lines: decodeCalculationLines(doc).map((l) => ({
            id: l.id,
            product_id: l.product_id,
            tax_code: l.tax_code,
            tax_inclusive: l.tax_inclusive,
            net_amount: l.net_amount,
            tax_amount: l.tax_amount,
            taxability_reason: l.taxability_reason as CalculationRecordLine['taxability_reason'],
          })),
          request: typeof doc.request === 'string' ? legacyRequest(doc.request, service.maxDepth) : requestForReader(doc.request, doc.lines),
          response: renderCalculationResponse(doc),
        },
      };
      send(ctx, 200, answer);
    }),
  );

  // Lifecycle: commit, void, refund (src/tax/lifecycle.ts). Bodies are small JSON objects, all optional.
  const LIFECYCLE_BODY_BYTES = 64 * 1024;
  const optionalBody = async (ctx: Context): Promise<Record<string, unknown>> => {
    const len = ctx.get('content-length');
    if (len === '0' || (!len && !ctx.get('transfer-encoding'))) return {};
    const { value } = await readJsonBodyText(ctx.req, LIFECYCLE_BODY_BYTES);
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new TaxApiError(400, 'validation_errors', 'the request body must be a JSON object');
    return value as Record<string, unknown>;
  };
  const lifecycleView = (doc: TaxCalculationDoc) => ({
    sphere_tax_calculation_id: doc.id,
    status: doc.status ?? 'calculated',
    kind: doc.kind ?? 'invoice',
    tax_date: doc.tax_date,
    currency: doc.currency,
    tax_total: doc.tax_total,
    ...(doc.reference_calculation_id ? { reference_calculation_id: doc.reference_calculation_id } : {}),
    ...(doc.committed_at ? { committed_at: doc.committed_at } : {}),
    ...(doc.voided_at ? { voided_at: doc.voided_at } : {}),
    ...(doc.void_reason ? { void_reason: doc.void_reason } : {}),
    ...(doc.refund_ids?.length ? { refund_ids: doc.refund_ids } : {}),
  });
  const calcId = (ctx: Context): string => {
    const id = String(ctx.params.id);
    if (id.length > 100) throw new TaxApiError(404, 'not_found', 'no such calculation (ids are at most 100 characters)');
    return id;
  };

  router.post(
    `${PREFIX}/calculations/:id/commit`,
    authed(async (ctx, auth) => {
      await optionalBody(ctx);
      send(ctx, 200, { message: 'Tax calculation committed', data: lifecycleView(await service.commitCalculation(auth, calcId(ctx))) });
    }),
  );
  router.post(
    `${PREFIX}/calculations/:id/void`,
    authed(async (ctx, auth) => {
      const b = await optionalBody(ctx);
      checkSchema(taxApiValidator('calculation_lifecycle', 'void_request'), b);
      send(ctx, 200, { message: 'Tax calculation voided', data: lifecycleView(await service.voidCalculation(auth, calcId(ctx), b.reason as string | undefined)) });
    }),
  );
  router.post(
    `${PREFIX}/calculations/:id/refund`,
    authed(async (ctx, auth) => {
      const b = await optionalBody(ctx);
      checkSchema(taxApiValidator('calculation_lifecycle', 'refund_request'), b);
      const type = b.type ?? (b.lines === undefined ? 'full' : 'partial');
      let lines: RefundLineInput[] | undefined;
      if (type === 'partial') {
        if (b.lines === undefined) throw validationError('lines', 'a partial refund needs lines: 1 to 1000 of {id, amount}');
        lines = (b.lines as RefundLineInput[]).map((l) => ({ id: l.id, amount: l.amount }));
      } else if (b.lines !== undefined) throw validationError('lines', 'a full refund takes no lines');
      const { refund, original } = await service.refundCalculation(auth, calcId(ctx), lines);
      send(ctx, 201, { message: 'Tax calculation refunded', data: { refund: { ...lifecycleView(refund), response: renderCalculationResponse(refund) }, original: lifecycleView(original) } });
    }),
  );

  // Transaction export for filing (src/tax/exports).
  router.post(
    `${PREFIX}/exports`,
    authed(async (ctx, auth) => {
      const { value } = await readJsonBodyText(ctx.req, LIFECYCLE_BODY_BYTES);
      const doc = await createExport(service, auth.view.org, value);
      if (doc.parameters.format === 'csv') {
        ctx.status = 201;
        ctx.set('Content-Type', 'text/csv; charset=utf-8');
        ctx.set('Location', `${PREFIX}/exports/${doc.id}`);
        ctx.body = toCsv(doc.rows, ROW_COLUMNS);
        return;
      }
      ctx.set('Location', `${PREFIX}/exports/${doc.id}`);
      send(ctx, 201, { message: 'Export created', data: exportView(doc, true) });
    }),
  );
  const exportOf = async (ctx: Context, auth: AuthContext) => {
    const doc = await getExport(service.store, auth.view.org, String(ctx.params.id));
    if (!doc) throw new TaxApiError(404, 'not_found', `no export ${JSON.stringify(String(ctx.params.id).slice(0, 100))} for this API key's organization (the last 20 are kept)`);
    return doc;
  };
  router.get(
    `${PREFIX}/exports/:id`,
    authed(async (ctx, auth) => {
      send(ctx, 200, { message: 'Export retrieved', data: exportView(await exportOf(ctx, auth), true) });
    }),
  );
  for (const [file, pick] of [['transactions.csv', 'rows'], ['summary.csv', 'summary']] as const) {
    router.get(
      `${PREFIX}/exports/:id/${file}`,
      authed(async (ctx, auth) => {
        const doc = await exportOf(ctx, auth);
        ctx.status = 200;
        ctx.set('Content-Type', 'text/csv; charset=utf-8');
        ctx.set('Content-Disposition', `attachment; filename="${doc.id}-${file}"`);
        ctx.body = pick === 'rows' ? toCsv(doc.rows, ROW_COLUMNS) : toCsv(doc.summary, SUMMARY_COLUMNS);
      }),
    );
  }

  const testCredentials = authed(async (ctx, auth) => {
    const answer: TestCredentials = {
      message: 'Credentials are valid',
      data: { organization_id: auth.view.org.id, organization_name: auth.view.org.name, mode: auth.view.org.mode, key_prefix: auth.key.prefix },
    };
    send(ctx, 200, answer);
  });
  router.get(`${PREFIX}/test_credentials`, testCredentials);
  router.post(`${PREFIX}/test_credentials`, testCredentials);

  // Anything else under /tax_api answers in Sphere's shape too.
  router.all(`${PREFIX}/*rest`, async (ctx) => {
    const parts = ctx.path.split('/');
    const allowed =
      ROUTES[ctx.path] ??
      (ctx.path.startsWith(`${PREFIX}/calculations/`) && parts.length === 4
        ? ['GET', 'HEAD']
        : ctx.path.startsWith(`${PREFIX}/calculations/`) && parts.length === 5 && ['commit', 'void', 'refund'].includes(parts[4]!)
          ? ['POST']
          : ctx.path.startsWith(`${PREFIX}/exports/`) && (parts.length === 4 || (parts.length === 5 && ['transactions.csv', 'summary.csv'].includes(parts[4]!)))
            ? ['GET', 'HEAD']
            : undefined);
    if (allowed && !allowed.includes(ctx.method)) {
      ctx.set('Allow', allowed.join(', '));
      return sendError(ctx, 405, { type: 'api_error', code: 'validation_errors', message: `${ctx.method} is not allowed on ${ctx.path}; use ${allowed.join(' or ')}` });
    }
    sendError(ctx, 404, { type: 'api_error', code: 'not_found', message: `no such endpoint: ${ctx.method} ${ctx.path.slice(0, 200)}` });
  });

  return router;
}

/**
 * A record written before records kept only known fields holds the body text: given back parsed when it is
 * shallow enough to serialize, else null (a body nested 5,000 deep once made this read answer 500).
 */
function legacyRequest(text: string, maxDepth: number): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  return tooDeepPath(v, maxDepth) === undefined ? (v as Record<string, unknown>) : null;
}

function bearer(h: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1] : undefined;
}
