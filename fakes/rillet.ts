/**
 * A fake Rillet Accounting API (v4) as a real koa HTTP server on 127.0.0.1.
 * See /work/shared/research/rillet-api.md.
 */
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { Router } from '@koa/router';
import { isoTime } from './data.ts';
import { FaultController, RateLimiter, controlMiddleware, createRequestLog, type Faults, type RateLimit, type RequestLog } from './faults.ts';
import { ApiError, isPlainObject, listen, queryList, queryParam, quietApp, readJson } from './http.ts';
import { IdempotencyStore, idempotencyMiddleware } from './idempotency.ts';
import { currencyDigits, formatUnits, isUnsignedDecimalString, normalizeDecimal, scaleOf, toUnitsExact } from './money.ts';
import {
  RILLET_DEFAULT_COUNTS, RILLET_INVOICE_STATUSES, RilletFactory, money, recomputeTotals,
  type ItemInput, type RilletAddress, type RilletCounts, type RilletCreditMemo, type RilletCustomer, type RilletData,
  type RilletInvoice, type RilletInvoiceStatus, type RilletProduct, type RilletTaxLine,
} from './rillet-data.ts';
import { IndexedMap, ViewCache, buildView, idView, paginate, type View } from './store.ts';
import { Deliverer, postRaw, rilletSignatureHeader, tamperBody, type DeliveryOptions, type DeliveryRecord } from './webhooks.ts';

export * from './rillet-data.ts';

export const RILLET_API_VERSION = '4';

export type RilletEntity = 'INVOICE' | 'CREDIT_MEMO' | 'CUSTOMER';
export type RilletEvent = 'CREATED' | 'UPDATED' | 'DELETED' | 'PAYMENT_UPDATED';

export interface RilletWebhookTarget {
  url: string;
  /** Entities this webhook is subscribed to (default: all). */
  entities?: RilletEntity[];
  /** Events this webhook is subscribed to (default: all). */
  events?: RilletEvent[];
  enabled?: boolean;
}

export interface FakeRilletOptions {
  port?: number;
  seed?: number;
  counts?: Partial<RilletCounts>;
  /** Items per generated invoice: a number or an inclusive [min, max] range (default [1, 10]). */
  linesPerInvoice?: number | [number, number];
  rateLimit?: RateLimit;
  latencyMs?: number;
  apiKey?: string;
  /** Make every write endpoint answer 403 (a read-only API key). */
  readOnly?: boolean;
  /** Require `X-Rillet-API-Version: 4` on API calls (400 otherwise; /health and /api-key exempt). Default true. */
  requireVersionHeader?: boolean;
  /** Webhook signing token (base64); default: 32 seeded random bytes. */
  signingToken?: string;
  /** Several tokens: every delivery carries one signature per token, comma-separated (rotation). */
  signingTokens?: string[];
  /** Dashboard-style webhooks that helper mutations deliver to. */
  webhookTargets?: RilletWebhookTarget[];
  webhookDelivery?: DeliveryOptions;
  /** Also deliver webhooks for writes made through the HTTP API (POST taxes, DELETE, PUT). Default false. */
  emitOnApiWrites?: boolean;
  requestLogLimit?: number;
}

export interface RilletWebhookEvent {
  entity: RilletEntity | string;
  event: RilletEvent | string;
  /** Resource id (for DELETED the body is just this id as a JSON string). */
  id: string;
  /** Override the body resource (default: the live record). */
  resource?: unknown;
}

export interface RilletSendOptions {
  /** Sign with this token (default: the handle's signing tokens). */
  token?: string;
  tokens?: string[];
  /** X-Rillet-Timestamp value (default now, ISO-8601). */
  timestamp?: string;
  /** X-Rillet-Id (default a random uuid). */
  eventId?: string;
  /** Change the body after signing so the signature no longer verifies. */
  tamper?: boolean;
  /** Send this X-Rillet-Signature instead of a computed one. */
  signature?: string;
}

export interface RilletSendResult {
  status: number;
  body: string;
  sent: { body: string; headers: Record<string, string> };
}

export type NewRilletInvoice = Partial<RilletInvoice> & { itemInputs?: ItemInput[]; itemCount?: number };
export type NewRilletCreditMemo = Partial<RilletCreditMemo> & { invoice_id?: string; itemInputs?: ItemInput[] };

/** Body of POST /invoices/{id}/taxes and /credit-memos/{id}/taxes. */
export interface TaxesBody {
  taxes_calculated_at: string;
  items: { id: string; tax_rates: RilletTaxLine[] }[];
}

export interface FakeRillet {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  apiKey: string;
  /** `Bearer <apiKey>` */
  authorization: string;
  apiVersion: string;
  readOnly: boolean;
  data: RilletData;
  requests: RequestLog;
  faults: Faults;
  setRateLimit(rl: RateLimit | undefined): void;
  setLatency(ms: number): void;
  setReadOnly(readOnly: boolean): void;
  /** Current signing token (base64) = signingTokens[0]. */
  readonly signingToken: string;
  /** All tokens deliveries are signed with (settable; several = rotation). */
  signingTokens: string[];
  /** Replace the token (the old one stops at once, as in the dashboard); returns the new one. */
  rotateSigningToken(): string;
  /** Where helper mutations deliver webhooks (settable). */
  webhookTargets: RilletWebhookTarget[];
  deliveries: DeliveryRecord[];
  deliveriesIdle(): Promise<void>;

  createCustomer(partial?: Partial<RilletCustomer>): RilletCustomer;
  updateCustomer(id: string, patch: Partial<RilletCustomer>): RilletCustomer;
  deleteCustomer(id: string): RilletCustomer;
  createProduct(partial?: Partial<RilletProduct>): RilletProduct;
  updateProduct(id: string, patch: Partial<RilletProduct>): RilletProduct;
  createInvoice(partial?: NewRilletInvoice): RilletInvoice;
  updateInvoice(id: string, patch: Partial<RilletInvoice>): RilletInvoice;
  deleteInvoice(id: string): RilletInvoice;
  /** Record a payment (default: the whole amount due); sends PAYMENT_UPDATED. */
  recordPayment(invoiceId: string, amount?: string): RilletInvoice;
  createCreditMemo(partial?: NewRilletCreditMemo): RilletCreditMemo;
  updateCreditMemo(id: string, patch: Partial<RilletCreditMemo>): RilletCreditMemo;
  deleteCreditMemo(id: string): RilletCreditMemo;
  /** What POST /{invoices|credit-memos}/{id}/taxes does (validation errors are thrown as ApiError). */
  applyTaxes(kind: 'invoice' | 'creditMemo', id: string, body: unknown): RilletInvoice | RilletCreditMemo;

  sendWebhook(targetUrl: string, event: RilletWebhookEvent, opts?: RilletSendOptions): Promise<RilletSendResult>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// problem details (RFC 9457)

const PROBLEM: Record<number, [string, string]> = {
  400: ['bad-request', 'Bad Request'],
  401: ['unauthorized', 'Unauthorized'],
  403: ['forbidden', 'Forbidden'],
  404: ['not-found', 'Not Found'],
  405: ['method-not-allowed', 'Method Not Allowed'],
  409: ['conflict', 'Conflict'],
  413: ['payload-too-large', 'Payload Too Large'],
  422: ['unprocessable-entity', 'Unprocessable Entity'],
  429: ['too-many-requests', 'Too Many Requests'],
  500: ['internal-server-error', 'Internal Server Error'],
  502: ['bad-gateway', 'Bad Gateway'],
  503: ['service-unavailable', 'Service Unavailable'],
  504: ['gateway-timeout', 'Gateway Timeout'],
};

export function problem(status: number, detail: string, extra?: Record<string, unknown>): Record<string, unknown> {
  const [slug, title] = PROBLEM[status] ?? [status >= 500 ? 'internal-server-error' : 'bad-request', status >= 500 ? 'Internal Server Error' : 'Bad Request'];
  return { type: `https://rillet.io/${slug}`, title, status, detail, ...extra };
}

/** A 400 naming the field at fault (`errors[0].field` is a JSON-path-like name such as items[0].id). */
function badField(field: string, detail: string): ApiError {
  return new ApiError(400, 'bad-request', `${field}: ${detail}`, { errors: [{ field, detail }] });
}

function notFound(what: string, id: string): ApiError {
  return new ApiError(404, 'not-found', `${what} ${id} not found`);
}

const ISO_DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const CURSOR_TTL_MS = 2 * 3600 * 1000;

// ------------------------------------------------------------------------------------------------

export async function startFakeRillet(opts: FakeRilletOptions = {}): Promise<FakeRillet> {
  const apiKey = opts.apiKey ?? 'rillet_key';
  const counts: RilletCounts = { ...RILLET_DEFAULT_COUNTS, ...opts.counts };
  const factory = new RilletFactory(opts.seed ?? 1);
  factory.generate(counts, opts.linesPerInvoice ?? [1, 10]);
  const data = factory.data;
  const requireVersion = opts.requireVersionHeader !== false;
  const emitOnApi = opts.emitOnApiWrites === true;
  const newToken = (): string => {
    const bytes = Buffer.alloc(32);
    for (let i = 0; i < 32; i += 4) bytes.writeUInt32BE(factory.rng.u32(), i);
    return bytes.toString('base64');
  };
  const initialTokens = opts.signingTokens?.length ? [...opts.signingTokens] : [opts.signingToken ?? newToken()];

  const requests = createRequestLog();
  const faults = new FaultController();
  const limiter = new RateLimiter(opts.rateLimit);
  let latency = opts.latencyMs ?? 0;
  let readOnly = opts.readOnly === true;
  const deliverer = new Deliverer(opts.webhookDelivery);
  const idem = new IdempotencyStore();
  const views = new ViewCache();
  const now = (): string => isoTime(factory.wall.now());

  // `self` is the returned handle; closures below read settable fields (tokens, targets) from it.
  // eslint-disable-next-line prefer-const
  let self: FakeRillet;

  // ---- webhooks ----
  function webhookHeaders(tokens: readonly string[], entity: string, event: string, body: string, o: { eventId?: string; timestamp?: string; signature?: string } = {}): Record<string, string> {
    const id = o.eventId ?? randomUUID();
    const ts = o.timestamp ?? new Date().toISOString();
    return {
      'X-Rillet-Id': id,
      'X-Rillet-Timestamp': ts,
      'X-Rillet-Entity': entity,
      'X-Rillet-Event': event,
      'X-Rillet-Signature': o.signature ?? rilletSignatureHeader(tokens, ts, id, entity, event, body),
    };
  }
  function emit(entity: RilletEntity, event: RilletEvent, id: string, resource: unknown): void {
    let body: string | undefined;
    for (const t of self.webhookTargets) {
      if (t.enabled === false) continue;
      if (t.entities && !t.entities.includes(entity)) continue;
      if (t.events && !t.events.includes(event)) continue;
      body ??= event === 'DELETED' ? JSON.stringify(id) : JSON.stringify(resource);
      deliverer.enqueue(t.url, t.url, `${entity}.${event}`, id, body, webhookHeaders(self.signingTokens, entity, event, body));
    }
  }
  const emitApi = (entity: RilletEntity, event: RilletEvent, id: string, resource: unknown): void => {
    if (emitOnApi) emit(entity, event, id, resource);
  };

  function mustGet<V>(map: Map<string, V>, what: string, id: string): V {
    const v = map.get(id);
    if (v === undefined) throw notFound(what, id);
    return v;
  }

  // ---- POST .../taxes ----
  function applyTaxes(kind: 'invoice' | 'creditMemo', id: string, body: unknown): RilletInvoice | RilletCreditMemo {
    const doc: RilletInvoice | RilletCreditMemo = kind === 'invoice' ? mustGet(data.invoices, 'invoice', id) : mustGet(data.creditMemos, 'credit memo', id);
    if (!isPlainObject(body)) throw badField('body', 'must be a JSON object with taxes_calculated_at and items');
    const at = body.taxes_calculated_at;
    if (at === undefined) throw badField('taxes_calculated_at', 'is required');
    if (typeof at !== 'string' || !ISO_DATETIME_RE.test(at) || Number.isNaN(Date.parse(at))) throw badField('taxes_calculated_at', `must be an ISO-8601 date-time, got ${JSON.stringify(at)}`);
    if (!Array.isArray(body.items)) throw badField('items', 'must be an array');
    const currency = doc.currency;
    const digits = currencyDigits(currency);
    const byId = new Map(doc.items.map((it) => [it.id, it]));
    const seen = new Set<string>();
    const planned: { item: (typeof doc.items)[number]; lines: RilletTaxLine[]; tax: bigint }[] = [];
    body.items.forEach((raw, i) => {
      const f = `items[${i}]`;
      if (!isPlainObject(raw)) throw badField(f, 'must be an object with id and tax_rates');
      if (typeof raw.id !== 'string' || raw.id === '') throw badField(`${f}.id`, 'is required');
      const item = byId.get(raw.id);
      if (!item) throw badField(`${f}.id`, `unknown ${kind === 'invoice' ? 'invoice' : 'credit memo'} item '${raw.id}' on ${doc.id}`);
      if (seen.has(raw.id)) throw badField(`${f}.id`, `item '${raw.id}' appears more than once`);
      seen.add(raw.id);
      if (raw.tax_rates === undefined) throw badField(`${f}.tax_rates`, raw.tax_rate !== undefined ? 'is required (the property is tax_rates, not tax_rate)' : 'is required');
      if (!Array.isArray(raw.tax_rates)) throw badField(`${f}.tax_rates`, 'must be an array');
      let tax = 0n;
      const lines = raw.tax_rates.map((r, j): RilletTaxLine => {
        const g = `${f}.tax_rates[${j}]`;
        if (!isPlainObject(r)) throw badField(g, 'must be an object');
        if (!isUnsignedDecimalString(r.percentage)) throw badField(`${g}.percentage`, `must be a non-negative decimal string such as "8.25", got ${JSON.stringify(r.percentage)}`);
        if (Number(r.percentage) > 100) throw badField(`${g}.percentage`, `is a percentage (0-100), got ${r.percentage}`);
        if (typeof r.type !== 'string' || r.type === '') throw badField(`${g}.type`, 'is required (e.g. SALES_TAX or VAT)');
        if (r.country !== undefined && r.country !== null && (typeof r.country !== 'string' || !/^[A-Z]{2}$/.test(r.country))) throw badField(`${g}.country`, `must be an ISO 3166-1 alpha-2 code, got ${JSON.stringify(r.country)}`);
        if (r.description !== undefined && r.description !== null && typeof r.description !== 'string') throw badField(`${g}.description`, 'must be a string');
        const ta = r.tax_amount;
        if (!isPlainObject(ta)) throw badField(`${g}.tax_amount`, 'is required: {"amount": "1.01", "currency": "USD"}');
        if (!isUnsignedDecimalString(ta.amount)) throw badField(`${g}.tax_amount.amount`, `must be a non-negative decimal string, got ${JSON.stringify(ta.amount)}`);
        if (ta.currency !== currency) throw badField(`${g}.tax_amount.currency`, `must be ${currency} (the document currency), got ${JSON.stringify(ta.currency)}`);
        if (scaleOf(ta.amount) > digits) {
          try {
            toUnitsExact(ta.amount, digits);
          } catch {
            throw badField(`${g}.tax_amount.amount`, `has more than ${digits} decimal places for ${currency}: ${ta.amount}`);
          }
        }
        const minor = toUnitsExact(ta.amount, digits);
        tax += minor;
        return {
          percentage: normalizeDecimal(r.percentage),
          type: r.type,
          country: typeof r.country === 'string' ? r.country : undefined,
          description: typeof r.description === 'string' ? r.description : undefined,
          tax_amount: { amount: formatUnits(minor, digits), currency },
        };
      });
      planned.push({ item, lines, tax });
    });
    // everything validated: apply
    for (const p of planned) {
      p.item.tax_rates = p.lines;
      p.item.taxed_amount = money(p.tax, currency);
    }
    recomputeTotals(doc, kind === 'invoice' ? data.amountPaid.get(doc.id) ?? 0n : 0n);
    doc.taxes_calculated_at = at;
    doc.updated_at = now();
    if (kind === 'invoice') data.invoices.set(doc.id, doc as RilletInvoice);
    else data.creditMemos.set(doc.id, doc as RilletCreditMemo);
    return doc;
  }

  // ---- HTTP ----
  const app = quietApp();
  app.use(controlMiddleware({
    log: requests,
    logLimit: opts.requestLogLimit ?? 10_000,
    faults,
    limiter,
    latency: () => latency,
    errorBody: (status, message) => problem(status, message),
    errorContentType: 'application/problem+json',
    commonHeaders: () => ({ 'X-Rillet-API-Version': RILLET_API_VERSION }),
    exempt: (ctx) => ctx.path === '/health',
  }));
  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) {
          ctx.status = 404;
          ctx.type = 'application/problem+json';
          ctx.body = problem(404, `no route for ${ctx.method} ${ctx.path}`);
        } else if (ctx.status === 405) {
          ctx.status = 405;
          ctx.type = 'application/problem+json';
          ctx.body = problem(405, `${ctx.method} is not allowed on ${ctx.path}`);
        }
      }
    } catch (e) {
      ctx.type = 'application/problem+json';
      if (e instanceof ApiError) {
        ctx.status = e.status;
        if (e.headers) ctx.set(e.headers);
        const errors = e.details?.errors ?? (typeof e.details?.field === 'string' ? [{ field: e.details.field, detail: e.message }] : undefined);
        ctx.body = problem(e.status, e.message, errors !== undefined ? { errors } : undefined);
      } else {
        ctx.status = 500;
        ctx.body = problem(500, `internal error: ${(e as Error).message}`);
      }
    }
  });
  app.use(async (ctx, next) => {
    if (ctx.path === '/health') return next();
    const auth = ctx.get('authorization');
    if (auth === '') throw new ApiError(401, 'unauthorized', 'Missing Authorization header: send "Authorization: Bearer <API key>"');
    const m = /^bearer\s+(.+)$/i.exec(auth);
    if (!m || m[1] !== apiKey) throw new ApiError(401, 'unauthorized', 'Invalid API key');
    if (ctx.path !== '/api-key' && requireVersion) {
      const v = ctx.get('x-rillet-api-version');
      if (v === '') throw new ApiError(400, 'bad-request', 'X-Rillet-API-Version header missing (this fake implements version 4 only; no header means v1)', { field: 'X-Rillet-API-Version' });
      if (v !== RILLET_API_VERSION) throw new ApiError(400, 'bad-request', `unsupported X-Rillet-API-Version '${v}': this fake implements version 4 only`, { field: 'X-Rillet-API-Version' });
    }
    if (readOnly && ctx.method !== 'GET' && ctx.method !== 'HEAD' && ctx.method !== 'OPTIONS') {
      throw new ApiError(403, 'forbidden', 'This API key is read-only: write access is needed for this request');
    }
    await next();
  });
  app.use(idempotencyMiddleware(idem));

  const router = new Router();

  // ---- lists ----
  function limitOf(ctx: Koa.Context): number {
    const raw = queryParam(ctx, 'limit');
    if (raw === undefined || raw === '') return 25;
    if (!/^-?\d+$/.test(raw)) throw badField('limit', `must be an integer between 1 and 100, got '${raw}'`);
    const n = Number(raw);
    if (n < 1 || n > 100) throw badField('limit', `must be between 1 and 100, got ${n}`);
    return n;
  }
  function updatedGt(ctx: Koa.Context): number | undefined {
    let raw = queryParam(ctx, 'updated.gt');
    if (raw === undefined || raw === '') return undefined;
    raw = raw.replace(/ /g, '+'); // an unencoded "+00:00" arrives as a space
    const ms = Date.parse(raw);
    if (!ISO_DATETIME_RE.test(raw) || Number.isNaN(ms)) throw badField('updated.gt', `must be an ISO-8601 date-time such as 2026-01-01T00:00:00Z, got '${raw}'`);
    return ms;
  }
  function sortOf(ctx: Koa.Context): 'created' | 'updated' {
    const s = queryParam(ctx, 'sort_by');
    if (s === undefined || s === '' || s === 'created') return 'created';
    if (s === 'updated') return 'updated';
    throw badField('sort_by', `must be created or updated, got '${s}'`);
  }
  function decodeCursor(raw: string | undefined, sort: string): string | undefined {
    if (!raw) return undefined;
    const s = Buffer.from(raw, 'base64url').toString('utf8');
    const a = s.indexOf('~');
    const b = a < 0 ? -1 : s.indexOf('~', a + 1);
    if (a < 0 || b < 0) return undefined;
    const issued = Number(s.slice(0, a));
    if (!Number.isFinite(issued) || Date.now() - issued > CURSOR_TTL_MS || issued > Date.now() + 60_000) return undefined;
    if (s.slice(a + 1, b) !== sort) return undefined;
    const key = s.slice(b + 1);
    return key === '' ? undefined : key; // an invalid/expired cursor silently restarts at page 1
  }
  const encodeCursor = (sort: string, key: string): string => Buffer.from(`${Date.now()}~${sort}~${key}`, 'utf8').toString('base64url');

  function list<V extends { updated_at: string }>(ctx: Koa.Context, plural: string, map: IndexedMap<V>, conds: { sig: string; keep: (v: V) => boolean }[]): void {
    const limit = limitOf(ctx);
    const sort = sortOf(ctx);
    const gt = updatedGt(ctx);
    const all = [...conds];
    if (gt !== undefined) all.push({ sig: `ugt=${gt}`, keep: (v) => Date.parse(v.updated_at) > gt });
    let view: View;
    if (all.length === 0 && sort === 'created') view = idView(map as IndexedMap<unknown>);
    else {
      const sig = `${plural}|${sort}|${all.map((c) => c.sig).join('|')}`;
      view = views.get(sig, map.version, () => buildView(map, (v) => all.every((c) => c.keep(v)), sort === 'updated' ? (v, id) => `${v.updated_at}~${id}` : undefined));
    }
    const after = decodeCursor(queryParam(ctx, 'cursor'), sort);
    const page = paginate(view, { after, limit });
    ctx.body = {
      [plural]: page.ids.map((id) => map.get(id)!),
      pagination: page.hasAfter && page.lastKey !== undefined ? { next_cursor: encodeCursor(sort, page.lastKey) } : {},
    };
  }
  const eq = <V>(name: string, value: string | undefined, get: (v: V) => string): { sig: string; keep: (v: V) => boolean }[] =>
    value === undefined || value === '' ? [] : [{ sig: `${name}=${value}`, keep: (v) => get(v) === value }];

  router.get('/health', (ctx) => {
    ctx.body = { status: 'UP' };
  });
  router.get('/api-key', (ctx) => {
    ctx.body = { valid: true, read_only: readOnly };
  });
  router.get('/subsidiaries', (ctx) => {
    ctx.body = { subsidiaries: [...data.subsidiaries.values()] };
  });
  router.get('/tax-rates', (ctx) => {
    ctx.body = { tax_rates: [...data.taxRates.values()] };
  });

  router.get('/customers', (ctx) => list(ctx, 'customers', data.customers, []));
  router.get('/customers/:id', (ctx) => {
    ctx.body = mustGet(data.customers, 'customer', ctx.params.id!);
  });
  router.put('/customers/:id', async (ctx) => {
    const c = mustGet(data.customers, 'customer', ctx.params.id!);
    const b = await readJson(ctx);
    if (!isPlainObject(b)) throw badField('body', 'must be a JSON object');
    if (typeof b.name !== 'string' || b.name.trim() === '') throw badField('name', 'is required (PUT replaces the whole customer)');
    const next: RilletCustomer = {
      id: c.id,
      name: b.name,
      name_on_invoice: optString(b, 'name_on_invoice'),
      address: b.address === undefined || b.address === null ? undefined : validateAddress(b.address, 'address'),
      shipping_address: b.shipping_address === undefined || b.shipping_address === null ? undefined : validateAddress(b.shipping_address, 'shipping_address'),
      emails: validateEmails(b.emails),
      external_references: Array.isArray(b.external_references) ? (b.external_references as RilletCustomer['external_references']) : [],
      payment_terms: optString(b, 'payment_terms'),
      created_at: c.created_at,
      updated_at: now(),
    };
    for (const k of Object.keys(c) as (keyof RilletCustomer)[]) delete c[k];
    Object.assign(c, next);
    data.customers.set(c.id, c);
    emitApi('CUSTOMER', 'UPDATED', c.id, c);
    ctx.body = c;
  });

  router.get('/products', (ctx) => list(ctx, 'products', data.products, []));
  router.get('/products/:id', (ctx) => {
    ctx.body = mustGet(data.products, 'product', ctx.params.id!);
  });

  router.get('/invoices', (ctx) => {
    const statuses = queryList(ctx, 'status');
    for (const s of statuses ?? []) {
      if (!RILLET_INVOICE_STATUSES.includes(s as RilletInvoiceStatus)) throw badField('status', `must be one of ${RILLET_INVOICE_STATUSES.join(', ')}, got '${s}'`);
    }
    const set = statuses?.length ? new Set(statuses) : undefined;
    list(ctx, 'invoices', data.invoices, [
      ...eq<RilletInvoice>('sub', queryParam(ctx, 'subsidiary_id'), (v) => v.subsidiary_id),
      ...eq<RilletInvoice>('cus', queryParam(ctx, 'customer_id'), (v) => v.customer_id),
      ...(set ? [{ sig: `st=${[...set].sort().join(',')}`, keep: (v: RilletInvoice) => set.has(v.status) }] : []),
    ]);
  });
  router.get('/invoices/:id', (ctx) => {
    ctx.body = mustGet(data.invoices, 'invoice', ctx.params.id!);
  });
  router.delete('/invoices/:id', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    data.invoices.delete(inv.id);
    factory.forgetItems(inv.id);
    data.amountPaid.delete(inv.id);
    emitApi('INVOICE', 'DELETED', inv.id, inv.id);
    ctx.status = 204;
  });
  router.post('/invoices/:id/taxes', async (ctx) => {
    const body = await readJson(ctx);
    const inv = applyTaxes('invoice', ctx.params.id!, body);
    emitApi('INVOICE', 'UPDATED', inv.id, inv);
    ctx.body = inv;
  });

  router.get('/credit-memos', (ctx) => {
    list(ctx, 'credit_memos', data.creditMemos, [
      ...eq<RilletCreditMemo>('sub', queryParam(ctx, 'subsidiary_id'), (v) => v.subsidiary_id),
      ...eq<RilletCreditMemo>('cus', queryParam(ctx, 'customer_id'), (v) => v.customer_id),
    ]);
  });
  router.get('/credit-memos/:id', (ctx) => {
    ctx.body = mustGet(data.creditMemos, 'credit memo', ctx.params.id!);
  });
  router.delete('/credit-memos/:id', (ctx) => {
    const cm = mustGet(data.creditMemos, 'credit memo', ctx.params.id!);
    data.creditMemos.delete(cm.id);
    emitApi('CREDIT_MEMO', 'DELETED', cm.id, cm.id);
    ctx.status = 204;
  });
  router.post('/credit-memos/:id/taxes', async (ctx) => {
    const body = await readJson(ctx);
    const cm = applyTaxes('creditMemo', ctx.params.id!, body);
    emitApi('CREDIT_MEMO', 'UPDATED', cm.id, cm);
    ctx.body = cm;
  });

  app.use(router.routes());
  app.use(router.allowedMethods());

  const l = await listen(app, opts.port ?? 0);

  self = {
    url: l.origin,
    port: l.port,
    apiKey,
    authorization: `Bearer ${apiKey}`,
    apiVersion: RILLET_API_VERSION,
    get readOnly() {
      return readOnly;
    },
    data,
    requests,
    faults,
    setRateLimit: (rl) => limiter.set(rl),
    setLatency: (ms) => {
      latency = ms;
    },
    setReadOnly: (ro) => {
      readOnly = ro;
    },
    get signingToken() {
      return this.signingTokens[0]!;
    },
    signingTokens: initialTokens,
    rotateSigningToken() {
      const t = newToken();
      this.signingTokens = [t];
      return t;
    },
    webhookTargets: opts.webhookTargets ? [...opts.webhookTargets] : [],
    deliveries: deliverer.log,
    deliveriesIdle: () => deliverer.idle(),

    createCustomer(partial = {}) {
      const c = factory.makeCustomer(factory.wall.now(), undefined, partial);
      if (partial.updated_at === undefined) c.updated_at = c.created_at;
      emit('CUSTOMER', 'CREATED', c.id, c);
      return c;
    },
    updateCustomer(id, patch) {
      const c = mustGet(data.customers, 'customer', id);
      Object.assign(c, patch, { id });
      if (patch.updated_at === undefined) c.updated_at = now();
      data.customers.set(id, c);
      emit('CUSTOMER', 'UPDATED', id, c);
      return c;
    },
    deleteCustomer(id) {
      const c = mustGet(data.customers, 'customer', id);
      data.customers.delete(id);
      factory.forgetCustomer(id);
      emit('CUSTOMER', 'DELETED', id, id);
      return c;
    },
    createProduct(partial = {}) {
      return factory.makeProduct(factory.wall.now(), undefined, partial);
    },
    updateProduct(id, patch) {
      const p = mustGet(data.products, 'product', id);
      Object.assign(p, patch, { id });
      if (patch.updated_at === undefined) p.updated_at = now();
      data.products.set(id, p);
      return p;
    },
    createInvoice(partial = {}) {
      const { itemInputs, itemCount, ...rest } = partial;
      const inv = factory.makeInvoice(factory.wall.now(), rest, itemInputs, itemCount ?? 3);
      if (rest.updated_at === undefined) inv.updated_at = inv.created_at;
      emit('INVOICE', 'CREATED', inv.id, inv);
      return inv;
    },
    updateInvoice(id, patch) {
      const inv = mustGet(data.invoices, 'invoice', id);
      Object.assign(inv, patch, { id });
      if (patch.items !== undefined) recomputeTotals(inv, data.amountPaid.get(id) ?? 0n);
      if (patch.updated_at === undefined) inv.updated_at = now();
      data.invoices.set(id, inv);
      emit('INVOICE', 'UPDATED', id, inv);
      return inv;
    },
    deleteInvoice(id) {
      const inv = mustGet(data.invoices, 'invoice', id);
      inv.items = [...inv.items]; // keep the returned record complete
      data.invoices.delete(id);
      data.amountPaid.delete(id);
      emit('INVOICE', 'DELETED', id, id);
      return inv;
    },
    recordPayment(invoiceId, amount) {
      const inv = mustGet(data.invoices, 'invoice', invoiceId);
      const digits = currencyDigits(inv.currency);
      const due = toUnitsExact(inv.amount_due.amount, digits);
      const pay = amount === undefined ? due : toUnitsExact(amount, digits);
      const paid = (data.amountPaid.get(invoiceId) ?? 0n) + pay;
      data.amountPaid.set(invoiceId, paid);
      recomputeTotals(inv, paid);
      inv.status = toUnitsExact(inv.amount_due.amount, digits) === 0n ? 'PAID' : 'PARTIALLY_PAID';
      inv.overdue = inv.status === 'PAID' ? false : inv.overdue;
      inv.updated_at = now();
      data.invoices.set(invoiceId, inv);
      emit('INVOICE', 'PAYMENT_UPDATED', invoiceId, inv);
      return inv;
    },
    createCreditMemo(partial = {}) {
      const { invoice_id, itemInputs, ...rest } = partial;
      const invId = invoice_id ?? factory.pickInvoiceId();
      if (invId === undefined) throw new Error('no invoice to credit');
      const cm = factory.makeCreditMemo(factory.wall.now(), invId, rest, itemInputs);
      emit('CREDIT_MEMO', 'CREATED', cm.id, cm);
      return cm;
    },
    updateCreditMemo(id, patch) {
      const cm = mustGet(data.creditMemos, 'credit memo', id);
      Object.assign(cm, patch, { id });
      if (patch.items !== undefined) recomputeTotals(cm);
      if (patch.updated_at === undefined) cm.updated_at = now();
      data.creditMemos.set(id, cm);
      emit('CREDIT_MEMO', 'UPDATED', id, cm);
      return cm;
    },
    deleteCreditMemo(id) {
      const cm = mustGet(data.creditMemos, 'credit memo', id);
      data.creditMemos.delete(id);
      emit('CREDIT_MEMO', 'DELETED', id, id);
      return cm;
    },
    applyTaxes(kind, id, body) {
      const doc = applyTaxes(kind, id, body);
      emit(kind === 'invoice' ? 'INVOICE' : 'CREDIT_MEMO', 'UPDATED', id, doc);
      return doc;
    },

    async sendWebhook(targetUrl, ev, o = {}) {
      let body: string;
      if (ev.event === 'DELETED') body = JSON.stringify(ev.id);
      else {
        let resource = ev.resource;
        if (resource === undefined) {
          resource = ev.entity === 'INVOICE' ? data.invoices.get(ev.id) : ev.entity === 'CREDIT_MEMO' ? data.creditMemos.get(ev.id)
            : ev.entity === 'CUSTOMER' ? data.customers.get(ev.id) : undefined;
          if (resource === undefined) throw new Error(`sendWebhook: no ${ev.entity} with id ${ev.id}`);
        }
        body = JSON.stringify(resource);
      }
      const tokens = o.tokens ?? (o.token !== undefined ? [o.token] : self.signingTokens);
      const headers = webhookHeaders(tokens, ev.entity, ev.event, body, o);
      const sentBody = o.tamper ? tamperBody(body) : body;
      const res = await postRaw(targetUrl, sentBody, headers);
      return { ...res, sent: { body: sentBody, headers } };
    },
    async close() {
      deliverer.stop();
      await l.close();
    },
  };
  return self;
}

// ------------------------------------------------------------------------------------------------
// validation

function optString(b: Record<string, unknown>, k: string): string | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badField(k, 'must be a string');
  return v;
}

function validateAddress(v: unknown, key: string): RilletAddress {
  if (!isPlainObject(v)) throw badField(key, 'must be an object');
  const str = (k: string, required: boolean): string | undefined => {
    const x = v[k];
    if (x === undefined || x === null || x === '') {
      if (required) throw badField(`${key}.${k}`, 'is required');
      return undefined;
    }
    if (typeof x !== 'string') throw badField(`${key}.${k}`, 'must be a string');
    return x;
  };
  const line1 = str('line1', true)!;
  const line2 = str('line2', false);
  const city = str('city', true)!;
  const zip = str('zip_code', true)!;
  const country = str('country', true)!;
  if (!/^[A-Z]{2}$/.test(country)) throw badField(`${key}.country`, `must be an ISO 3166-1 alpha-2 code, got '${country}'`);
  const state = str('state', country === 'US' || country === 'CA');
  return { line1, line2, city, state, zip_code: zip, country };
}

function validateEmails(v: unknown): RilletCustomer['emails'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badField('emails', 'must be an array of {email, type}');
  return v.map((e, i) => {
    if (!isPlainObject(e) || typeof e.email !== 'string' || !e.email.includes('@')) throw badField(`emails[${i}].email`, 'must be an email address');
    return { email: e.email, type: typeof e.type === 'string' ? e.type : 'BILLING' };
  });
}
