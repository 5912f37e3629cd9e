/**
 * A fake Stripe API (v1, pinned `Stripe-Version` 2025-03-31.basil by default) as a real koa HTTP server
 * on 127.0.0.1: secret-key auth (Bearer or Basic), form-encoded POST bodies only, list envelopes with
 * `starting_after`/`ending_before`, `created[...]` filters, the `/v1/events` change feed, webhook
 * endpoints whose signing secret is returned once, `Stripe-Signature` deliveries, manual tax amounts on
 * draft lines, automatic finalization of drafts, idempotency keys and per-mode rate limits.
 * See /work/shared/research/stripe-api.md.
 */
import { createHmac } from 'node:crypto';
import type Koa from 'koa';
import { Router } from '@koa/router';
import { FaultController, RateLimiter, controlMiddleware, createRequestLog, type Faults, type RateLimit, type RequestLog } from './faults.ts';
import { ApiError, listen, quietApp, readRawBody } from './http.ts';
import { FormError, canonicalForm, decodeForm, formIdempotency, isFormRequest, isFormTree, type FormTree } from './stripe-form.ts';
import {
  EMBEDDED_LINES, EVENT_RE, INT_RE, P, address, allow, bad, bool, errorBody, expandOf, int, list, metadata, missing, readTaxAmounts, render, reqStr, str,
  strings, tree, type TaxAmountInput,
} from './stripe-params.ts';
import {
  STRIPE_API_VERSION, STRIPE_DEFAULT_COUNTS, StripeFactory, recomputeInvoice, toUnix,
  type StripeAddress, type StripeCounts, type StripeCreditNote, type StripeCustomer, type StripeData, type StripeEvent, type StripeInvoice,
  type StripeInvoiceStatus, type StripeLineInput, type StripeLineItem, type StripeLineTax, type StripeProduct, type StripeTaxRate,
  type StripeWebhookEndpoint, type TaxExempt,
} from './stripe-data.ts';
import { IndexedMap, ViewCache, buildView, idView, paginate, type View } from './store.ts';
import { Deliverer, postRaw, tamperBody, type DeliveryOptions, type DeliveryRecord } from './webhooks.ts';

export * from './stripe-data.ts';

// ------------------------------------------------------------------------------------------------
// signatures (docs "Verify webhook signatures manually")

/** v1: hex HMAC-SHA256 of "<t>.<raw body>", keyed with the whole `whsec_...` string as UTF-8 bytes. */
export function stripeSignature(secret: string, t: number | string, rawBody: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${rawBody}`, 'utf8').digest('hex');
}

/** `t=<unix s>,v1=<hex>[,v1=<hex>...]`: one v1 per secret (several while a secret is rolled). */
export function stripeSignatureHeader(secrets: readonly string[], t: number, rawBody: string, v0?: string): string {
  return [`t=${t}`, ...secrets.map((s) => `v1=${stripeSignature(s, t, rawBody)}`), ...(v0 !== undefined ? [`v0=${v0}`] : [])].join(',');
}

// ------------------------------------------------------------------------------------------------

export interface FakeStripeOptions {
  port?: number;
  seed?: number;
  counts?: Partial<StripeCounts>;
  /** Lines per generated invoice: a number or an inclusive [min, max] (default [1, 14]: some exceed the embedded page of 10). */
  linesPerInvoice?: number | [number, number];
  /** The secret key (default `sk_test_taxbridge_fake`); `sk_live_` makes the fake live mode. */
  secretKey?: string;
  /** Restricted keys (`rk_test_...`) also accepted. */
  restrictedKeys?: string[];
  /** Versions `Stripe-Version` may name; the first is the account default (default [2025-03-31.basil]). */
  apiVersions?: string[];
  /** Default: Stripe's per-mode rate, 25 requests/s in test mode, 100/s live. `false`: no limit. */
  rateLimit?: RateLimit | false;
  latencyMs?: number;
  /** How long an `auto_advance` draft stays editable before Stripe finalizes it (default 1 h, as Stripe). */
  finalizeAfterMs?: number;
  webhookDelivery?: DeliveryOptions;
  /** Also send the fake `v0=` test-mode signature in Stripe-Signature (default false). */
  signatureV0?: boolean;
  requestLogLimit?: number;
}

export interface NewStripeInvoice {
  customer?: string;
  currency?: string;
  lines?: StripeLineInput[];
  /** Generated catalogue lines when `lines` is absent (default 3). */
  lineCount?: number;
  /** Default true (a subscription draft): finalized automatically after the window. */
  autoAdvance?: boolean;
  billingReason?: StripeInvoice['billing_reason'];
  /** Window for this draft (default: the fake's `finalizeAfterMs`). */
  finalizeAfterMs?: number;
  automaticTax?: boolean;
  defaultTaxRates?: StripeTaxRate[];
  metadata?: Record<string, string>;
}

export interface StripeSendOptions {
  /** Sign with these secrets (default: the endpoint's, else the first registered endpoint's). */
  secret?: string;
  secrets?: string[];
  /** `t` in unix seconds (default now). */
  timestamp?: number;
  tamper?: boolean;
  /** Send this Stripe-Signature value instead of a computed one. */
  signature?: string;
}

export interface StripeSendResult {
  status: number;
  body: string;
  sent: { body: string; headers: Record<string, string> };
}

/** A POST/DELETE as received: the exact bytes and what they decoded to. */
export interface StripeWrite {
  method: string;
  path: string;
  contentType: string;
  raw: string;
  params: FormTree | undefined;
  status: number;
  at: number;
}

export interface FakeStripe {
  /** Origin, e.g. http://127.0.0.1:PORT (paths are /v1/...). */
  url: string;
  port: number;
  secretKey: string;
  /** `Bearer <secretKey>` */
  authorization: string;
  apiVersion: string;
  livemode: boolean;
  data: StripeData;
  requests: RequestLog;
  /** POST and DELETE bodies as received (newest last). */
  writes: StripeWrite[];
  faults: Faults;
  /** The limit in force (undefined: none). */
  readonly rateLimit: RateLimit | undefined;
  setRateLimit(rl: RateLimit | undefined): void;
  setLatency(ms: number): void;
  /** Window of new auto_advance drafts (settable). */
  finalizeAfterMs: number;
  deliveries: DeliveryRecord[];
  deliveriesIdle(): Promise<void>;

  createCustomer(partial?: Partial<StripeCustomer>): StripeCustomer;
  updateCustomer(id: string, patch: Partial<StripeCustomer>): StripeCustomer;
  deleteCustomer(id: string): void;
  createProduct(partial?: Partial<StripeProduct> & { unitAmount?: number }): StripeProduct;
  /** A draft (default auto_advance, finalized after the window) with its lines; sends invoice.created. */
  createInvoice(opts?: NewStripeInvoice): StripeInvoice;
  finalizeInvoice(id: string): StripeInvoice;
  payInvoice(id: string): StripeInvoice;
  voidInvoice(id: string): StripeInvoice;
  /** Drafts only, as Stripe. */
  deleteInvoice(id: string): void;
  createCreditNote(opts: { invoice: string; lineCount?: number }): StripeCreditNote;
  linesOf(invoiceId: string): StripeLineItem[];
  /** The invoice as the API renders it (lines embedded, first page). */
  renderInvoice(id: string): unknown;
  /** Same as POST /v1/webhook_endpoints; the returned object carries `secret`. */
  registerWebhookEndpoint(p: { url: string; enabled_events: string[]; api_version?: string }): StripeWebhookEndpoint & { secret: string };
  /** Finalize every auto_advance draft whose window has passed (at `nowMs`, default now). Returns their ids. */
  advanceDrafts(nowMs?: number): string[];
  /** Build, sign and POST one event now (no retries). */
  sendWebhook(targetUrl: string, event: StripeEvent | { type: string; object: unknown }, opts?: StripeSendOptions): Promise<StripeSendResult>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------

interface Cond<V> {
  sig: string;
  keep: (v: V) => boolean;
}

export async function startFakeStripe(opts: FakeStripeOptions = {}): Promise<FakeStripe> {
  const secretKey = opts.secretKey ?? 'sk_test_taxbridge_fake';
  if (!/^sk_(test|live)_[A-Za-z0-9_]+$/.test(secretKey)) throw new Error(`secretKey must look like sk_test_... or sk_live_..., got ${secretKey}`);
  const livemode = secretKey.startsWith('sk_live_');
  const keys = new Set([secretKey, ...(opts.restrictedKeys ?? [])]);
  const versions = opts.apiVersions?.length ? opts.apiVersions : [STRIPE_API_VERSION];
  const counts: StripeCounts = { ...STRIPE_DEFAULT_COUNTS, ...opts.counts };
  const factory = new StripeFactory(opts.seed ?? 1, livemode);
  factory.generate(counts, opts.linesPerInvoice ?? [1, 14]);
  const data = factory.data;
  /** Every id ever listed (deleted ones too): a cursor naming one of them is valid. */
  const known = new Set<string>();

  const requests = createRequestLog();
  const writes: StripeWrite[] = [];
  const faults = new FaultController();
  const defaultRate: RateLimit = { requests: livemode ? 100 : 25, perSeconds: 1 };
  const limiter = new RateLimiter(opts.rateLimit === false ? undefined : opts.rateLimit ?? defaultRate);
  let latency = opts.latencyMs ?? 0;
  const deliverer = new Deliverer(opts.webhookDelivery);
  const views = new ViewCache();
  /** auto_advance drafts -> when they finalize (ms) */
  const due = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const nowS = (): number => toUnix(factory.wall.now());

  // eslint-disable-next-line prefer-const
  let self: FakeStripe;

  // ---- events and webhooks ----
  type ReqInfo = { id: string | null; idempotency_key: string | null };
  const noReq: ReqInfo = { id: null, idempotency_key: null };
  const reqOf = (ctx: Koa.Context): ReqInfo => ({ id: (ctx.state as { requestId?: string }).requestId ?? null, idempotency_key: ctx.get('idempotency-key') || null });

  function matches(ep: StripeWebhookEndpoint, type: string): boolean {
    return ep.status === 'enabled' && (ep.enabled_events.includes('*') || ep.enabled_events.includes(type));
  }

  function emit(type: string, object: unknown, req: ReqInfo = noReq, previous?: Record<string, unknown>): StripeEvent {
    const targets = [...data.webhookEndpoints.values()].filter((ep) => matches(ep, type));
    const { id, ms } = factory.id('evt', factory.wall.now());
    const ev: StripeEvent = {
      id, object: 'event', api_version: versions[0]!, created: toUnix(ms),
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
      livemode, pending_webhooks: targets.length, request: req, type,
    };
    data.events.set(id, ev);
    for (const ep of targets) {
      const body = JSON.stringify(ep.api_version && ep.api_version !== ev.api_version ? { ...ev, api_version: ep.api_version } : ev);
      const t = toUnix(Date.now());
      const secret = data.endpointSecrets.get(ep.id)!;
      deliverer.enqueue(ep.id, ep.url, type, (object as { id?: string }).id, body, {
        'Stripe-Signature': stripeSignatureHeader([secret], t, body, opts.signatureV0 ? stripeSignature('whsec_v0_fake', t, body) : undefined),
        'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      });
    }
    return ev;
  }

  // ---- rendering ----
  const linesOf = (id: string): StripeLineItem[] => data.lines.get(id) ?? [];
  function renderInvoice(inv: StripeInvoice, expand: Set<string> = new Set(), prefix = ''): unknown {
    const lines = linesOf(inv.id);
    const out: Record<string, unknown> = {
      ...inv,
      lines: { object: 'list', data: lines.slice(0, EMBEDDED_LINES), has_more: lines.length > EMBEDDED_LINES, url: `/v1/invoices/${inv.id}/lines` },
    };
    if (expand.has(`${prefix}customer`)) out.customer = renderCustomer(inv.customer);
    return out;
  }
  function renderCustomer(id: string, expand: Set<string> = new Set(), prefix = ''): unknown {
    const c = data.customers.get(id);
    if (!c) return { id, object: 'customer', deleted: true };
    if (!expand.has(`${prefix}tax_ids`)) return c;
    const ids = data.taxIds.get(id) ?? [];
    return { ...c, tax_ids: { object: 'list', data: ids, has_more: false, url: `/v1/customers/${id}/tax_ids` } };
  }
  function renderCreditNote(cn: StripeCreditNote, expand: Set<string> = new Set(), prefix = ''): unknown {
    const lines = data.creditNoteLines.get(cn.id) ?? [];
    const out: Record<string, unknown> = {
      ...cn, lines: { object: 'list', data: lines.slice(0, EMBEDDED_LINES), has_more: lines.length > EMBEDDED_LINES, url: `/v1/credit_notes/${cn.id}/lines` },
    };
    if (expand.has(`${prefix}customer`)) out.customer = renderCustomer(cn.customer);
    if (expand.has(`${prefix}invoice`)) out.invoice = data.invoices.has(cn.invoice) ? renderInvoice(data.invoices.get(cn.invoice)!) : cn.invoice;
    return out;
  }

  // ---- state changes shared by the API and the handle ----
  function mustGet<V>(map: Map<string, V>, what: string, id: string): V {
    const v = map.get(id);
    if (v === undefined) throw missing(what, id);
    return v;
  }

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed || due.size === 0) return;
    let next = Infinity;
    for (const t of due.values()) next = Math.min(next, t);
    timer = setTimeout(() => {
      timer = undefined;
      advanceDrafts(Date.now());
    }, Math.max(0, Math.min(next - Date.now(), 2 ** 31 - 1)));
    timer.unref();
  }

  function setDue(inv: StripeInvoice, atMs: number | undefined): void {
    if (atMs === undefined) {
      due.delete(inv.id);
      inv.automatically_finalizes_at = null;
    } else {
      due.set(inv.id, atMs);
      inv.automatically_finalizes_at = Math.ceil(atMs / 1000);
    }
    schedule();
  }

  function advanceDrafts(nowMs = Date.now()): string[] {
    const done: string[] = [];
    for (const [id, at] of [...due]) {
      if (at > nowMs) continue;
      due.delete(id);
      const inv = data.invoices.get(id);
      if (inv && inv.status === 'draft') {
        finalize(inv, noReq);
        done.push(id);
      }
    }
    schedule();
    return done;
  }

  function finalize(inv: StripeInvoice, req: ReqInfo): StripeInvoice {
    if (inv.status !== 'draft') throw new ApiError(400, 'invalid_request_error', `This invoice is already finalized, you can't re-finalize a non-draft invoice.`, { code: 'invoice_not_editable' });
    const t = nowS();
    const cust = data.customers.get(inv.customer);
    inv.status = 'open';
    inv.number = factory.nextInvoiceNumber(cust?.invoice_prefix ?? 'INV');
    inv.status_transitions.finalized_at = t;
    inv.effective_at = t;
    inv.ending_balance = 0;
    inv.hosted_invoice_url = `https://invoice.stripe.com/i/acct_fake/${inv.id}`;
    due.delete(inv.id);
    inv.automatically_finalizes_at = null;
    schedule();
    data.invoices.set(inv.id, inv);
    const obj = renderInvoice(inv);
    emit('invoice.finalized', obj, req);
    emit('invoice.updated', obj, req, { status: 'draft', number: null });
    return inv;
  }

  function setStatus(inv: StripeInvoice, to: StripeInvoiceStatus, req: ReqInfo): StripeInvoice {
    if (inv.status !== 'open') throw new ApiError(400, 'invalid_request_error', `You can only ${to === 'paid' ? 'pay' : to === 'void' ? 'void' : 'mark uncollectible'} an open invoice; ${inv.id} is ${inv.status}.`, { code: 'invoice_unexpected_state' });
    const t = nowS();
    const prev = inv.status;
    inv.status = to;
    if (to === 'paid') {
      inv.amount_paid = inv.amount_due;
      inv.amount_remaining = 0;
      inv.status_transitions.paid_at = t;
    } else if (to === 'void') inv.status_transitions.voided_at = t;
    else inv.status_transitions.marked_uncollectible_at = t;
    data.invoices.set(inv.id, inv);
    const obj = renderInvoice(inv);
    emit(to === 'paid' ? 'invoice.paid' : to === 'void' ? 'invoice.voided' : 'invoice.marked_uncollectible', obj, req);
    emit('invoice.updated', obj, req, { status: prev });
    return inv;
  }

  function createDraft(o: NewStripeInvoice, req: ReqInfo): StripeInvoice {
    const inv = factory.makeInvoice(factory.wall.now(), {
      ...(o.customer !== undefined ? { customer: o.customer } : {}),
      ...(o.currency !== undefined ? { currency: o.currency.toLowerCase() } : {}),
      status: 'draft', auto_advance: o.autoAdvance ?? true, billing_reason: o.billingReason ?? 'subscription_cycle', metadata: o.metadata ?? {},
      automatic_tax: { disabled_reason: null, enabled: o.automaticTax === true, liability: null, provider: null, status: o.automaticTax ? 'requires_location_inputs' : null } as StripeInvoice['automatic_tax'],
      default_tax_rates: o.defaultTaxRates ?? [],
    }, o.lines, o.lineCount ?? 3);
    inv.webhooks_delivered_at = null;
    if (inv.auto_advance) setDue(inv, Date.now() + (o.finalizeAfterMs ?? self.finalizeAfterMs));
    data.invoices.set(inv.id, inv);
    emit('invoice.created', renderInvoice(inv), req);
    return inv;
  }

  /** Check that tax amounts may be written on this line of this invoice (Stripe's refusals). */
  function assertTaxable(inv: StripeInvoice, line: StripeLineItem, param: string): void {
    if (inv.status !== 'draft') {
      throw new ApiError(400, 'invalid_request_error', `Invoice ${inv.id} is ${inv.status}: line items can only be updated while the invoice is a draft (it was finalized at ${inv.status_transitions.finalized_at}).`, { code: 'invoice_not_editable', param });
    }
    if (inv.automatic_tax.enabled) throw bad(param, `You cannot set tax_amounts on invoice ${inv.id}: automatic_tax is enabled. Disable automatic tax to provide tax amounts from a third-party tax engine.`);
    if (inv.default_tax_rates.length > 0) throw bad(param, `You cannot set tax_amounts on invoice ${inv.id}: it has default_tax_rates.`);
    if (data.rateLines.has(line.id)) throw bad(param, `You cannot set tax_amounts on line ${line.id}: it has tax_rates.`);
  }

  /** TaxRate objects Stripe creates (archived) for manual amounts, reused when the tax_rate_data is identical. */
  const rateByData = new Map<string, StripeTaxRate>();
  function rateFor(d: TaxAmountInput['rate']): StripeTaxRate {
    const k = JSON.stringify(d);
    let r = rateByData.get(k);
    if (!r) {
      r = factory.makeTaxRate(factory.wall.now(), d);
      rateByData.set(k, r);
    }
    return r;
  }
  const toTaxes = (amounts: TaxAmountInput[]): StripeLineTax[] => amounts.map((a) => ({
    amount: a.amount, tax_behavior: a.rate.inclusive ? 'inclusive' : 'exclusive', tax_rate_details: { tax_rate: rateFor(a.rate).id },
    taxability_reason: a.taxability_reason, taxable_amount: a.taxable_amount, type: 'tax_rate_details',
  }));

  interface LinePatch {
    description?: string | null;
    metadata?: Record<string, string>;
    taxes?: TaxAmountInput[];
  }
  const LINE_PARAMS = ['amount', 'description', 'discountable', 'discounts', 'metadata', 'period', 'price_data', 'pricing', 'quantity', 'tax_amounts', 'tax_rates'];
  function readLinePatch(inv: StripeInvoice, line: StripeLineItem, p: FormTree, prefix: string): LinePatch {
    const out: LinePatch = {};
    for (const k of ['amount', 'discountable', 'discounts', 'period', 'price_data', 'pricing', 'quantity']) {
      if (p[k] !== undefined) throw bad(P(prefix, k), `${P(prefix, k)} is a real Stripe parameter that this fake does not implement; it supports description, metadata and tax_amounts.`);
    }
    if (p.tax_rates !== undefined && p.tax_rates !== '') throw bad(P(prefix, 'tax_rates'), `${P(prefix, 'tax_rates')}: this fake only supports clearing tax_rates (tax_rates=).`);
    const d = str(p, 'description', prefix);
    if (d !== undefined) out.description = d === '' ? null : d;
    const m = metadata(p, line.metadata);
    if (m !== undefined) out.metadata = m;
    const t = readTaxAmounts(p.tax_amounts, P(prefix, 'tax_amounts'));
    if (t !== undefined) {
      assertTaxable(inv, line, P(prefix, 'tax_amounts'));
      out.taxes = t;
    }
    if (inv.status !== 'draft') assertTaxable(inv, line, prefix === '' ? 'line_item_id' : prefix);
    return out;
  }
  function applyLinePatch(line: StripeLineItem, patch: LinePatch): void {
    if (patch.description !== undefined) line.description = patch.description;
    if (patch.metadata !== undefined) line.metadata = patch.metadata;
    if (patch.taxes !== undefined) line.taxes = toTaxes(patch.taxes);
  }
  function touchInvoice(inv: StripeInvoice, req: ReqInfo, previous: Record<string, unknown>): void {
    recomputeInvoice(inv, linesOf(inv.id));
    data.invoices.set(inv.id, inv);
    emit('invoice.updated', renderInvoice(inv), req, previous);
  }

  // ---- HTTP ------------------------------------------------------------------------------------------
  const app = quietApp();

  app.use(controlMiddleware({
    log: requests,
    logLimit: opts.requestLogLimit ?? 10_000,
    faults,
    limiter,
    latency: () => latency,
    errorBody: (status, message) => status === 429
      ? errorBody(429, `Request rate limit exceeded. You can learn more about rate limits here https://docs.stripe.com/rate-limits. (${message})`, 'invalid_request_error', 'rate_limit')
      : errorBody(status, message),
    commonHeaders: (ctx) => {
      const requestId = `req_${factory.rng.hex(14)}`;
      (ctx.state as { requestId?: string }).requestId = requestId;
      const v = ctx.get('stripe-version');
      return { 'Request-Id': requestId, 'Stripe-Version': v !== '' && versions.includes(v) ? v : versions[0]! };
    },
  }));

  // error rendering + the write log
  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404 || ctx.status === 405) {
          ctx.status = 404;
          ctx.body = errorBody(404, `Unrecognized request URL (${ctx.method}: ${ctx.path}). Please see https://docs.stripe.com or we can help at https://support.stripe.com/.`);
        }
      }
    } catch (e) {
      const r = render(e);
      ctx.status = r.status;
      ctx.body = r.body;
    } finally {
      if (ctx.method === 'POST' || ctx.method === 'DELETE') {
        const st = ctx.state as { rawBody?: string; params?: FormTree };
        writes.push({ method: ctx.method, path: ctx.path, contentType: ctx.get('content-type'), raw: st.rawBody ?? '', params: st.params, status: ctx.status, at: Date.now() });
        if (writes.length > 10_000) writes.splice(0, 1_000);
      }
    }
  });

  // auth, version, parameters
  app.use(async (ctx, next) => {
    const auth = ctx.get('authorization');
    let key: string | undefined;
    if (/^bearer /i.test(auth)) key = auth.slice(7).trim();
    else if (/^basic /i.test(auth)) {
      const dec = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      key = dec.includes(':') ? dec.slice(0, dec.indexOf(':')) : dec;
    }
    if (key === undefined || key === '') {
      throw new ApiError(401, 'invalid_request_error', `You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://docs.stripe.com/api#authentication for details, or we can help at https://support.stripe.com/.`);
    }
    if (key.startsWith('pk_')) throw new ApiError(401, 'invalid_request_error', 'This API call cannot be made with a publishable API key. Please use a secret API key.');
    if (!keys.has(key)) throw new ApiError(401, 'invalid_request_error', `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`, { code: 'api_key_invalid' });
    const v = ctx.get('stripe-version');
    if (v !== '' && !versions.includes(v)) {
      throw new ApiError(400, 'invalid_request_error', `Invalid Stripe API version: ${v}. This fake serves ${versions.join(', ')}.`, { code: 'api_version_invalid' });
    }
    const st = ctx.state as { params?: FormTree };
    try {
      if (ctx.method === 'POST') {
        const raw = await readRawBody(ctx);
        if (!isFormRequest(ctx, raw)) {
          throw new ApiError(400, 'invalid_request_error', `Invalid request (check that your POST content type is application/x-www-form-urlencoded). Got Content-Type '${ctx.get('content-type') || '(none)'}'. If you have any questions, we can help at https://support.stripe.com/.`);
        }
        st.params = decodeForm(raw);
        if (ctx.querystring !== '') Object.assign(st.params, decodeForm(ctx.querystring));
      } else st.params = decodeForm(ctx.querystring);
    } catch (e) {
      if (e instanceof FormError) throw bad(e.param, `Invalid request: ${e.message}`);
      throw e;
    }
    advanceDrafts(Date.now());
    await next();
  });

  app.use(formIdempotency({
    header: 'idempotency-key',
    replayedHeader: 'Idempotent-Replayed',
    ttlMs: 24 * 3600 * 1000,
    mismatch: (key) => new ApiError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`),
    inFlight: (key) => new ApiError(409, 'idempotency_error', `There is currently another in-progress request using this Idempotent Key (${key}), probably because of a timeout or a retry. Try the request again later.`, { code: 'idempotency_key_in_use' }),
    tooLong: () => bad('Idempotency-Key', 'Idempotency-Key must be at most 255 characters'),
    storable: (e) => e.details?.validation !== true,
    render,
    fingerprint: async (ctx) => canonicalForm((ctx.state as { params?: FormTree }).params),
  }));

  const router = new Router({ prefix: '/v1' });
  const params = (ctx: Koa.Context): FormTree => (ctx.state as { params: FormTree }).params;

  // ---- lists ----
  const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'created', 'expand'];
  function createdConds<V extends { created: number }>(p: FormTree): Cond<V>[] {
    const c = p.created;
    if (c === undefined) return [];
    if (typeof c === 'string') {
      if (!INT_RE.test(c)) throw bad('created', `Invalid integer: ${c}`, 'parameter_invalid_integer');
      const n = Number(c);
      return [{ sig: `c=${n}`, keep: (v) => v.created === n }];
    }
    if (!isFormTree(c)) throw bad('created', 'created must be a unix timestamp or a hash with gt, gte, lt, lte');
    allow(c, ['gt', 'gte', 'lt', 'lte'], 'created');
    const out: Cond<V>[] = [];
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
      const n = int(c, op, 'created');
      if (n === undefined) continue;
      const keep = op === 'gt' ? (v: V) => v.created > n : op === 'gte' ? (v: V) => v.created >= n : op === 'lt' ? (v: V) => v.created < n : (v: V) => v.created <= n;
      out.push({ sig: `c${op}=${n}`, keep });
    }
    return out;
  }
  function limitOf(p: FormTree): number {
    const n = int(p, 'limit');
    if (n === undefined) return 10;
    if (n < 1 || n > 100) throw bad('limit', `Invalid limit: must be between 1 and 100 (got ${n}).`);
    return n;
  }
  function cursors(p: FormTree, exists: (id: string) => boolean, what: string): { after?: string; before?: string } {
    const a = str(p, 'starting_after');
    const b = str(p, 'ending_before');
    if (a && b) throw bad('ending_before', 'You may only specify one of these parameters: ending_before, starting_after.');
    for (const [name, id] of [['starting_after', a], ['ending_before', b]] as const) {
      if (id && !exists(id)) throw missing(what, id, name);
    }
    return { ...(a ? { after: a } : {}), ...(b ? { before: b } : {}) };
  }
  function listBody<V extends { id: string; created: number }>(
    ctx: Koa.Context, url: string, what: string, map: IndexedMap<V>, conds: Cond<V>[], out: (v: V) => unknown,
  ): void {
    const p = params(ctx);
    const limit = limitOf(p);
    const all = [...createdConds<V>(p), ...conds];
    const cur = cursors(p, (id) => map.has(id) || known.has(id), what);
    const view: View = all.length === 0 ? idView(map as IndexedMap<unknown>)
      : views.get(`${url}|${all.map((c) => c.sig).join('|')}`, map.version, () => buildView(map, (v) => all.every((c) => c.keep(v))));
    // a cursor that is not in the filtered view still orders correctly: ids are the sort keys
    const page = paginate(view, { ...cur, limit, desc: true });
    for (const id of page.ids) known.add(id);
    ctx.body = { object: 'list', data: page.ids.map((id) => out(map.get(id)!)), has_more: cur.before !== undefined ? page.hasBefore : page.hasAfter, url };
  }
  /** Lines of one document in document order (ascending), the same envelope. */
  function listChildren<V extends { id: string }>(ctx: Koa.Context, url: string, what: string, items: readonly V[]): void {
    const p = params(ctx);
    allow(p, ['limit', 'starting_after', 'ending_before', 'expand']);
    const limit = limitOf(p);
    const index = new Map(items.map((v, i) => [v.id, i]));
    const cur = cursors(p, (id) => index.has(id), what);
    let start = 0;
    let end = Math.min(items.length, limit);
    if (cur.after !== undefined) {
      start = index.get(cur.after)! + 1;
      end = Math.min(items.length, start + limit);
    } else if (cur.before !== undefined) {
      end = index.get(cur.before)!;
      start = Math.max(0, end - limit);
    }
    ctx.body = { object: 'list', data: items.slice(start, end), has_more: cur.before !== undefined ? start > 0 : end < items.length, url };
  }
  const eqCond = <V>(name: string, value: string | undefined, get: (v: V) => unknown): Cond<V>[] =>
    value === undefined || value === '' ? [] : [{ sig: `${name}=${value}`, keep: (v) => get(v) === value }];

  // ---- customers ----
  const CUSTOMER_FIELDS = ['address', 'description', 'email', 'expand', 'metadata', 'name', 'phone', 'preferred_locales', 'shipping', 'tax_exempt'];
  function customerPatch(p: FormTree, c: StripeCustomer | undefined): Partial<StripeCustomer> {
    const out: Partial<StripeCustomer> = {};
    for (const k of ['description', 'email', 'name', 'phone'] as const) {
      const v = str(p, k);
      if (v !== undefined) out[k] = v === '' ? null : v;
    }
    const a = address(p, 'address');
    if (a !== undefined) out.address = a;
    const s = tree(p, 'shipping');
    if (s === '') out.shipping = null;
    else if (s !== undefined) {
      allow(s, ['address', 'name', 'phone'], 'shipping');
      out.shipping = { address: address(s, 'address') ?? { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, name: reqStr(s, 'name', 'shipping'), phone: str(s, 'phone', 'shipping') ?? null };
    }
    const te = str(p, 'tax_exempt');
    if (te !== undefined) {
      if (te !== 'none' && te !== 'exempt' && te !== 'reverse' && te !== '') throw bad('tax_exempt', `Invalid tax_exempt: must be one of none, exempt, or reverse`);
      out.tax_exempt = (te === '' ? 'none' : te) as TaxExempt;
    }
    const m = metadata(p, c?.metadata ?? {});
    if (m !== undefined) out.metadata = m;
    const pl = strings(p, 'preferred_locales');
    if (pl !== undefined) out.preferred_locales = pl;
    return out;
  }
  router.get('/customers', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'email']);
    const ex = expandOf(p, ['data.tax_ids']);
    listBody(ctx, '/v1/customers', 'customer', data.customers, eqCond<StripeCustomer>('email', str(p, 'email'), (c) => c.email), (c) => renderCustomer(c.id, ex, 'data.'));
  });
  router.post('/customers', (ctx) => {
    const p = params(ctx);
    allow(p, CUSTOMER_FIELDS);
    const patch = customerPatch(p, undefined);
    const c = factory.makeCustomer(factory.wall.now(), Number.MAX_SAFE_INTEGER, {
      address: null, email: null, name: null, phone: null, description: null, shipping: null, tax_exempt: 'none', metadata: {}, ...patch,
    });
    c.currency = null;
    data.taxIds.delete(c.id);
    emit('customer.created', c, reqOf(ctx));
    ctx.body = renderCustomer(c.id, expandOf(p, ['tax_ids']));
  });
  router.get('/customers/:id', (ctx) => {
    const id = ctx.params.id!;
    if (data.deletedCustomers.has(id)) {
      ctx.body = { id, object: 'customer', deleted: true };
      return;
    }
    mustGet(data.customers, 'customer', id);
    ctx.body = renderCustomer(id, expandOf(params(ctx), ['tax_ids']));
  });
  router.post('/customers/:id', (ctx) => {
    const c = mustGet(data.customers, 'customer', ctx.params.id!);
    const p = params(ctx);
    allow(p, CUSTOMER_FIELDS);
    const patch = customerPatch(p, c);
    const prev: Record<string, unknown> = {};
    for (const k of Object.keys(patch) as (keyof StripeCustomer)[]) prev[k] = structuredClone(c[k]);
    Object.assign(c, patch);
    data.customers.set(c.id, c);
    emit('customer.updated', c, reqOf(ctx), prev);
    ctx.body = renderCustomer(c.id, expandOf(p, ['tax_ids']));
  });
  router.delete('/customers/:id', (ctx) => {
    const c = mustGet(data.customers, 'customer', ctx.params.id!);
    deleteCustomer(c.id, reqOf(ctx));
    ctx.body = { id: c.id, object: 'customer', deleted: true };
  });
  router.get('/customers/:id/tax_ids', (ctx) => {
    mustGet(data.customers, 'customer', ctx.params.id!);
    listChildren(ctx, `/v1/customers/${ctx.params.id}/tax_ids`, 'tax_id', data.taxIds.get(ctx.params.id!) ?? []);
  });
  function deleteCustomer(id: string, req: ReqInfo): void {
    const c = mustGet(data.customers, 'customer', id);
    known.add(id);
    data.customers.delete(id);
    data.deletedCustomers.add(id);
    factory.forgetCustomer(id);
    emit('customer.deleted', c, req);
  }

  // ---- products, prices, tax rates ----
  router.get('/products', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'active']);
    const active = bool(p, 'active');
    listBody(ctx, '/v1/products', 'product', data.products, active === undefined ? [] : [{ sig: `a=${active}`, keep: (v) => v.active === active }], (v) => v);
  });
  router.get('/products/:id', (ctx) => {
    ctx.body = mustGet(data.products, 'product', ctx.params.id!);
  });
  const PRODUCT_FIELDS = ['active', 'description', 'expand', 'metadata', 'name', 'tax_code'];
  function productPatch(p: FormTree, cur: StripeProduct | undefined): Partial<StripeProduct> {
    allow(p, PRODUCT_FIELDS);
    const out: Partial<StripeProduct> = {};
    const name = str(p, 'name');
    if (name !== undefined) {
      if (name === '') throw bad('name', 'name cannot be empty');
      out.name = name;
    }
    const d = str(p, 'description');
    if (d !== undefined) out.description = d === '' ? null : d;
    const tc = str(p, 'tax_code');
    if (tc !== undefined) {
      if (tc !== '' && !/^txcd_\d{8}$/.test(tc)) throw bad('tax_code', `Invalid tax_code: '${tc}' is not a Stripe tax code (txcd_ followed by 8 digits)`);
      out.tax_code = tc === '' ? null : tc;
    }
    const a = bool(p, 'active');
    if (a !== undefined) out.active = a;
    const m = metadata(p, cur?.metadata ?? {});
    if (m !== undefined) out.metadata = m;
    return out;
  }
  router.post('/products', (ctx) => {
    const p = params(ctx);
    const patch = productPatch(p, undefined);
    if (patch.name === undefined) throw bad('name', 'Missing required param: name.', 'parameter_missing');
    const prod = factory.makeProduct(factory.wall.now(), undefined, { description: null, tax_code: null, metadata: {}, ...patch });
    emit('product.created', prod, reqOf(ctx));
    ctx.body = prod;
  });
  router.post('/products/:id', (ctx) => {
    const prod = mustGet(data.products, 'product', ctx.params.id!);
    const patch = productPatch(params(ctx), prod);
    const prev: Record<string, unknown> = {};
    for (const k of Object.keys(patch) as (keyof StripeProduct)[]) prev[k] = structuredClone(prod[k]);
    Object.assign(prod, patch, { updated: nowS() });
    data.products.set(prod.id, prod);
    emit('product.updated', prod, reqOf(ctx), prev);
    ctx.body = prod;
  });
  router.get('/prices', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'active', 'currency', 'product', 'type']);
    const active = bool(p, 'active');
    listBody(ctx, '/v1/prices', 'price', data.prices, [
      ...eqCond<(typeof data.prices extends IndexedMap<infer V> ? V : never)>('product', str(p, 'product'), (v) => v.product),
      ...eqCond<(typeof data.prices extends IndexedMap<infer V> ? V : never)>('currency', str(p, 'currency')?.toLowerCase(), (v) => v.currency),
      ...eqCond<(typeof data.prices extends IndexedMap<infer V> ? V : never)>('type', str(p, 'type'), (v) => v.type),
      ...(active === undefined ? [] : [{ sig: `a=${active}`, keep: (v: { active: boolean }) => v.active === active }]),
    ], (v) => v);
  });
  router.get('/prices/:id', (ctx) => {
    ctx.body = mustGet(data.prices, 'price', ctx.params.id!);
  });
  router.get('/tax_rates', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'active', 'inclusive']);
    const active = bool(p, 'active');
    listBody(ctx, '/v1/tax_rates', 'tax_rate', data.taxRates, active === undefined ? [] : [{ sig: `a=${active}`, keep: (v) => v.active === active }], (v) => v);
  });
  router.get('/tax_rates/:id', (ctx) => {
    ctx.body = mustGet(data.taxRates, 'tax_rate', ctx.params.id!);
  });

  // ---- invoices ----
  const STATUSES: readonly StripeInvoiceStatus[] = ['draft', 'open', 'paid', 'uncollectible', 'void'];
  router.get('/invoices', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'customer', 'status', 'collection_method', 'subscription']);
    const status = str(p, 'status');
    if (status !== undefined && !STATUSES.includes(status as StripeInvoiceStatus)) throw bad('status', `Invalid status: must be one of ${STATUSES.join(', ')}`);
    const ex = expandOf(p, ['data.customer']);
    listBody(ctx, '/v1/invoices', 'invoice', data.invoices, [
      ...eqCond<StripeInvoice>('customer', str(p, 'customer'), (v) => v.customer),
      ...eqCond<StripeInvoice>('status', status, (v) => v.status),
      ...eqCond<StripeInvoice>('cm', str(p, 'collection_method'), (v) => v.collection_method),
      ...eqCond<StripeInvoice>('sub', str(p, 'subscription'), (v) => v.parent?.subscription_details.subscription),
    ], (v) => renderInvoice(v, ex, 'data.'));
  });
  router.post('/invoices', (ctx) => {
    const p = params(ctx);
    allow(p, ['auto_advance', 'automatically_finalizes_at', 'collection_method', 'currency', 'customer', 'days_until_due', 'description', 'expand', 'metadata']);
    const customer = reqStr(p, 'customer');
    if (!data.customers.has(customer)) throw missing('customer', customer, 'customer');
    const cm = str(p, 'collection_method');
    if (cm !== undefined && cm !== 'charge_automatically' && cm !== 'send_invoice') throw bad('collection_method', 'Invalid collection_method: must be charge_automatically or send_invoice');
    const days = int(p, 'days_until_due');
    if (cm === 'send_invoice' && days === undefined) throw bad('days_until_due', 'Missing required param: days_until_due (required when collection_method is send_invoice).', 'parameter_missing');
    const at = int(p, 'automatically_finalizes_at');
    const inv = createDraft({
      customer, currency: str(p, 'currency'), lines: [], autoAdvance: bool(p, 'auto_advance') ?? false, billingReason: 'manual',
      metadata: metadata(p, {}) ?? {}, finalizeAfterMs: at !== undefined ? at * 1000 - Date.now() : undefined,
    }, reqOf(ctx));
    if (at !== undefined && !inv.auto_advance) setDue(inv, at * 1000);
    const d = str(p, 'description');
    if (d) inv.description = d;
    if (cm) inv.collection_method = cm as StripeInvoice['collection_method'];
    if (days !== undefined) inv.due_date = inv.created + days * 86400;
    ctx.body = renderInvoice(inv, expandOf(p, ['customer']));
  });
  router.get('/invoices/:id', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    ctx.body = renderInvoice(inv, expandOf(params(ctx), ['customer']));
  });
  router.post('/invoices/:id', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    const p = params(ctx);
    allow(p, ['auto_advance', 'automatically_finalizes_at', 'default_tax_rates', 'description', 'expand', 'metadata']);
    const prev: Record<string, unknown> = {};
    const draftOnly = ['automatically_finalizes_at', 'default_tax_rates', 'description'].filter((k) => p[k] !== undefined);
    if (draftOnly.length > 0 && inv.status !== 'draft') throw new ApiError(400, 'invalid_request_error', `Invoice ${inv.id} is ${inv.status}: ${draftOnly.join(', ')} can only be changed on a draft.`, { code: 'invoice_not_editable', param: draftOnly[0] });
    if (p.default_tax_rates !== undefined && p.default_tax_rates !== '') throw bad('default_tax_rates', 'this fake only supports clearing default_tax_rates (default_tax_rates=)');
    if (p.default_tax_rates === '') {
      prev.default_tax_rates = inv.default_tax_rates;
      inv.default_tax_rates = [];
    }
    const d = str(p, 'description');
    if (d !== undefined) {
      prev.description = inv.description;
      inv.description = d === '' ? null : d;
    }
    const m = metadata(p, inv.metadata);
    if (m !== undefined) {
      prev.metadata = inv.metadata;
      inv.metadata = m;
    }
    const aa = bool(p, 'auto_advance');
    const at = int(p, 'automatically_finalizes_at');
    if (aa !== undefined) {
      prev.auto_advance = inv.auto_advance;
      inv.auto_advance = aa;
      if (inv.status === 'draft') setDue(inv, aa ? (at !== undefined ? at * 1000 : due.get(inv.id) ?? Date.now() + self.finalizeAfterMs) : at !== undefined ? at * 1000 : undefined);
    } else if (at !== undefined) setDue(inv, at * 1000);
    data.invoices.set(inv.id, inv);
    emit('invoice.updated', renderInvoice(inv), reqOf(ctx), prev);
    ctx.body = renderInvoice(inv, expandOf(p, ['customer']));
  });
  router.delete('/invoices/:id', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    deleteInvoice(inv, reqOf(ctx));
    ctx.body = { id: inv.id, object: 'invoice', deleted: true };
  });
  function deleteInvoice(inv: StripeInvoice, req: ReqInfo): void {
    if (inv.status !== 'draft') throw new ApiError(400, 'invalid_request_error', `You can only delete draft invoices; ${inv.id} is ${inv.status}. Void it instead.`, { code: 'invoice_not_editable' });
    const obj = renderInvoice(inv);
    known.add(inv.id);
    data.invoices.delete(inv.id);
    data.lines.delete(inv.id);
    due.delete(inv.id);
    schedule();
    emit('invoice.deleted', obj, req);
  }
  router.post('/invoices/:id/finalize', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    const p = params(ctx);
    allow(p, ['auto_advance', 'expand']);
    const aa = bool(p, 'auto_advance');
    if (aa !== undefined) inv.auto_advance = aa;
    finalize(inv, reqOf(ctx));
    ctx.body = renderInvoice(inv, expandOf(p, ['customer']));
  });
  for (const [verb, to] of [['pay', 'paid'], ['void', 'void'], ['mark_uncollectible', 'uncollectible']] as const) {
    router.post(`/invoices/:id/${verb}`, (ctx) => {
      const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
      const p = params(ctx);
      allow(p, verb === 'pay' ? ['expand', 'paid_out_of_band', 'payment_method', 'source'] : ['expand']);
      setStatus(inv, to, reqOf(ctx));
      ctx.body = renderInvoice(inv, expandOf(p, ['customer']));
    });
  }
  router.get('/invoices/:id/lines', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    listChildren(ctx, `/v1/invoices/${inv.id}/lines`, 'invoice line item', linesOf(inv.id));
  });
  router.post('/invoices/:id/lines/:line', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    const line = linesOf(inv.id).find((l) => l.id === ctx.params.line);
    if (!line) throw missing('invoice line item', ctx.params.line!, 'line_item_id');
    const p = params(ctx);
    allow(p, [...LINE_PARAMS, 'expand']);
    const patch = readLinePatch(inv, line, p, '');
    const prev = { total: inv.total, total_taxes: structuredClone(inv.total_taxes) };
    applyLinePatch(line, patch);
    touchInvoice(inv, reqOf(ctx), prev);
    ctx.body = line;
  });
  router.post('/invoices/:id/update_lines', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    const p = params(ctx);
    allow(p, ['expand', 'invoice_metadata', 'lines']);
    const raw = list(p, 'lines');
    if (raw === undefined || raw === '' || raw.length === 0) throw bad('lines', 'Missing required param: lines.', 'parameter_missing');
    if (inv.status !== 'draft') throw new ApiError(400, 'invalid_request_error', `Invoice ${inv.id} is ${inv.status}: line items can only be updated while the invoice is a draft.`, { code: 'invoice_not_editable', param: 'lines' });
    const byId = new Map(linesOf(inv.id).map((l) => [l.id, l]));
    const seen = new Set<string>();
    // validate every line before changing any: a bad request changes nothing
    const planned = raw.map((x, i) => {
      const f = `lines[${i}]`;
      if (!isFormTree(x)) throw bad(f, `Invalid object: ${f}`);
      allow(x, ['id', ...LINE_PARAMS], f);
      const id = reqStr(x, 'id', f);
      const line = byId.get(id);
      if (!line) throw missing('invoice line item', id, `${f}[id]`);
      if (seen.has(id)) throw bad(`${f}[id]`, `Line ${id} appears more than once in lines`);
      seen.add(id);
      return { line, patch: readLinePatch(inv, line, x, f) };
    });
    const im = p.invoice_metadata !== undefined ? metadata({ metadata: p.invoice_metadata } as FormTree, inv.metadata) : undefined;
    const prev = { total: inv.total, total_taxes: structuredClone(inv.total_taxes) };
    for (const { line, patch } of planned) applyLinePatch(line, patch);
    if (im !== undefined) inv.metadata = im;
    touchInvoice(inv, reqOf(ctx), prev);
    ctx.body = renderInvoice(inv, expandOf(p, ['customer']));
  });

  // ---- credit notes ----
  router.get('/credit_notes', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'customer', 'invoice']);
    const ex = expandOf(p, ['data.customer', 'data.invoice']);
    listBody(ctx, '/v1/credit_notes', 'credit note', data.creditNotes, [
      ...eqCond<StripeCreditNote>('customer', str(p, 'customer'), (v) => v.customer),
      ...eqCond<StripeCreditNote>('invoice', str(p, 'invoice'), (v) => v.invoice),
    ], (v) => renderCreditNote(v, ex, 'data.'));
  });
  router.get('/credit_notes/:id', (ctx) => {
    ctx.body = renderCreditNote(mustGet(data.creditNotes, 'credit note', ctx.params.id!), expandOf(params(ctx), ['customer', 'invoice']));
  });
  router.get('/credit_notes/:id/lines', (ctx) => {
    const cn = mustGet(data.creditNotes, 'credit note', ctx.params.id!);
    listChildren(ctx, `/v1/credit_notes/${cn.id}/lines`, 'credit note line item', data.creditNoteLines.get(cn.id) ?? []);
  });
  router.post('/credit_notes/:id/void', (ctx) => {
    const cn = mustGet(data.creditNotes, 'credit note', ctx.params.id!);
    allow(params(ctx), ['expand']);
    if (cn.status === 'void') throw new ApiError(400, 'invalid_request_error', `Credit note ${cn.id} is already void.`, { code: 'credit_note_already_voided' });
    cn.status = 'void';
    cn.voided_at = nowS();
    data.creditNotes.set(cn.id, cn);
    const obj = renderCreditNote(cn);
    emit('credit_note.voided', obj, reqOf(ctx));
    emit('credit_note.updated', obj, reqOf(ctx), { status: 'issued', voided_at: null });
    ctx.body = obj;
  });

  // ---- events (the change feed) ----
  router.get('/events', (ctx) => {
    const p = params(ctx);
    allow(p, [...LIST_PARAMS, 'type', 'types', 'delivery_success']);
    const type = str(p, 'type');
    const types = strings(p, 'types');
    if (type !== undefined && types !== undefined) throw bad('types', 'You may only specify one of these parameters: type, types.');
    if (types && types.length > 20) throw bad('types', 'types can have at most 20 entries');
    const pats = (type !== undefined ? [type] : types ?? []).map((t) => {
      if (!/^[a-z_*]+(\.[a-z_*]+)*$/.test(t)) throw bad(type !== undefined ? 'type' : 'types', `Invalid event type filter: '${t}'`);
      return t.endsWith('.*') ? { prefix: t.slice(0, -1) } : { exact: t };
    });
    const conds: Cond<StripeEvent>[] = pats.length === 0 ? [] : [{
      sig: `t=${pats.map((x) => x.prefix ?? x.exact).join(',')}`,
      keep: (e) => pats.some((x) => (x.exact !== undefined ? e.type === x.exact : e.type.startsWith(x.prefix!))),
    }];
    listBody(ctx, '/v1/events', 'event', data.events, conds, (v) => v);
  });
  router.get('/events/:id', (ctx) => {
    ctx.body = mustGet(data.events, 'event', ctx.params.id!);
  });

  // ---- webhook endpoints ----
  const publicEndpoint = (ep: StripeWebhookEndpoint): StripeWebhookEndpoint => {
    const { secret: _s, ...rest } = ep;
    return rest;
  };
  function readEvents(p: FormTree, required: boolean): string[] | undefined {
    const ev = strings(p, 'enabled_events');
    if (ev === undefined || ev.length === 0) {
      if (required) throw bad('enabled_events', 'Missing required param: enabled_events.', 'parameter_missing');
      return undefined;
    }
    ev.forEach((e, i) => {
      if (!EVENT_RE.test(e)) throw bad(`enabled_events[${i}]`, `Invalid enabled_events[${i}]: '${e}' is not an event type (such as invoice.created) or '*'`);
    });
    return ev;
  }
  function readUrl(p: FormTree, required: boolean): string | undefined {
    const url = required ? reqStr(p, 'url') : str(p, 'url');
    if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url)) throw bad('url', `Invalid URL: ${url}`, 'url_invalid');
    return url;
  }
  function registerEndpoint(p: { url: string; enabled_events: string[]; api_version?: string; description?: string | null; metadata?: Record<string, string> }): StripeWebhookEndpoint & { secret: string } {
    if (data.webhookEndpoints.size >= 16) throw bad('url', 'You have reached the maximum of 16 test webhook endpoints.');
    const { id, ms } = factory.id('we', factory.wall.now());
    const secret = `whsec_${factory.rng.hex(32)}`;
    const ep: StripeWebhookEndpoint = {
      id, object: 'webhook_endpoint', api_version: p.api_version ?? null, application: null, created: toUnix(ms), description: p.description ?? null,
      enabled_events: [...p.enabled_events], livemode, metadata: p.metadata ?? {}, status: 'enabled', url: p.url,
    };
    data.webhookEndpoints.set(id, ep);
    data.endpointSecrets.set(id, secret);
    return { ...ep, secret };
  }
  router.post('/webhook_endpoints', (ctx) => {
    const p = params(ctx);
    allow(p, ['api_version', 'connect', 'description', 'enabled_events', 'expand', 'metadata', 'url']);
    const url = readUrl(p, true)!;
    const enabled = readEvents(p, true)!;
    const v = str(p, 'api_version');
    if (v !== undefined && !versions.includes(v)) throw bad('api_version', `Invalid api_version: ${v}. This fake serves ${versions.join(', ')}.`);
    ctx.body = registerEndpoint({ url, enabled_events: enabled, api_version: v, description: str(p, 'description') ?? null, metadata: metadata(p, {}) ?? {} });
  });
  router.get('/webhook_endpoints', (ctx) => {
    const p = params(ctx);
    allow(p, ['limit', 'starting_after', 'ending_before', 'expand']);
    listBody(ctx, '/v1/webhook_endpoints', 'webhook endpoint', data.webhookEndpoints as IndexedMap<StripeWebhookEndpoint>, [], publicEndpoint);
  });
  router.get('/webhook_endpoints/:id', (ctx) => {
    ctx.body = publicEndpoint(mustGet(data.webhookEndpoints, 'webhook endpoint', ctx.params.id!));
  });
  router.post('/webhook_endpoints/:id', (ctx) => {
    const ep = mustGet(data.webhookEndpoints, 'webhook endpoint', ctx.params.id!);
    const p = params(ctx);
    allow(p, ['description', 'disabled', 'enabled_events', 'expand', 'metadata', 'url']);
    const url = readUrl(p, false);
    const ev = readEvents(p, false);
    const disabled = bool(p, 'disabled');
    const d = str(p, 'description');
    const m = metadata(p, ep.metadata);
    if (url !== undefined) ep.url = url;
    if (ev !== undefined) ep.enabled_events = ev;
    if (disabled !== undefined) ep.status = disabled ? 'disabled' : 'enabled';
    if (d !== undefined) ep.description = d === '' ? null : d;
    if (m !== undefined) ep.metadata = m;
    data.webhookEndpoints.set(ep.id, ep);
    ctx.body = publicEndpoint(ep);
  });
  router.delete('/webhook_endpoints/:id', (ctx) => {
    const ep = mustGet(data.webhookEndpoints, 'webhook endpoint', ctx.params.id!);
    known.add(ep.id);
    data.webhookEndpoints.delete(ep.id);
    data.endpointSecrets.delete(ep.id);
    ctx.body = { id: ep.id, object: 'webhook_endpoint', deleted: true };
  });

  app.use(router.routes());
  app.use(router.allowedMethods());

  const l = await listen(app, opts.port ?? 0);

  self = {
    url: l.origin,
    port: l.port,
    secretKey,
    authorization: `Bearer ${secretKey}`,
    apiVersion: versions[0]!,
    livemode,
    data,
    requests,
    writes,
    faults,
    get rateLimit() {
      return limiter.current;
    },
    setRateLimit: (rl) => limiter.set(rl),
    setLatency: (ms) => {
      latency = ms;
    },
    finalizeAfterMs: opts.finalizeAfterMs ?? 3_600_000,
    deliveries: deliverer.log,
    deliveriesIdle: () => deliverer.idle(),

    createCustomer(partial = {}) {
      const c = factory.makeCustomer(factory.wall.now(), undefined, partial);
      emit('customer.created', c);
      return c;
    },
    updateCustomer(id, patch) {
      const c = mustGet(data.customers, 'customer', id);
      const prev: Record<string, unknown> = {};
      for (const k of Object.keys(patch) as (keyof StripeCustomer)[]) prev[k] = structuredClone(c[k]);
      Object.assign(c, patch, { id });
      data.customers.set(id, c);
      emit('customer.updated', c, noReq, prev);
      return c;
    },
    deleteCustomer: (id) => deleteCustomer(id, noReq),
    createProduct(partial = {}) {
      const p = factory.makeProduct(factory.wall.now(), undefined, partial);
      emit('product.created', p);
      return p;
    },
    createInvoice: (o = {}) => createDraft(o, noReq),
    finalizeInvoice: (id) => finalize(mustGet(data.invoices, 'invoice', id), noReq),
    payInvoice: (id) => setStatus(mustGet(data.invoices, 'invoice', id), 'paid', noReq),
    voidInvoice: (id) => setStatus(mustGet(data.invoices, 'invoice', id), 'void', noReq),
    deleteInvoice: (id) => deleteInvoice(mustGet(data.invoices, 'invoice', id), noReq),
    createCreditNote(o) {
      const inv = mustGet(data.invoices, 'invoice', o.invoice);
      if (inv.status !== 'open' && inv.status !== 'paid') throw new Error(`credit notes need an open or paid invoice; ${inv.id} is ${inv.status}`);
      const cn = factory.makeCreditNote(factory.wall.now(), inv.id, {}, o.lineCount);
      emit('credit_note.created', renderCreditNote(cn));
      return cn;
    },
    linesOf,
    renderInvoice: (id) => renderInvoice(mustGet(data.invoices, 'invoice', id)),
    registerWebhookEndpoint: (p) => registerEndpoint(p),
    advanceDrafts: (nowMs) => advanceDrafts(nowMs ?? Date.now()),
    async sendWebhook(targetUrl, event, o = {}) {
      let ev: StripeEvent;
      if ('object' in event && event.object === 'event') ev = event as StripeEvent;
      else {
        const e = event as { type: string; object: unknown };
        const { id, ms } = factory.id('evt', factory.wall.now());
        ev = { id, object: 'event', api_version: versions[0]!, created: toUnix(ms), data: { object: e.object }, livemode, pending_webhooks: 1, request: noReq, type: e.type };
      }
      const body = JSON.stringify(ev);
      const secrets = o.secrets ?? (o.secret !== undefined ? [o.secret] : [data.endpointSecrets.values().next().value ?? 'whsec_unregistered']);
      const t = o.timestamp ?? toUnix(Date.now());
      const headers = { 'Stripe-Signature': o.signature ?? stripeSignatureHeader(secrets, t, body), 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
      const sent = o.tamper ? tamperBody(body) : body;
      const res = await postRaw(targetUrl, sent, headers);
      return { ...res, sent: { body: sent, headers } };
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      deliverer.stop();
      await l.close();
    },
  };
  return self;
}
