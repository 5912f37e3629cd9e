/**
 * A fake Sequence API (version 2024-07-30) as a real koa HTTP server on 127.0.0.1.
 * Base URL includes `/api`, like the real hosts. See /work/shared/research/sequence-api.md.
 */
import type Koa from 'koa';
import { Router } from '@koa/router';
import { UUID_RE, isoTime } from './data.ts';
import { FaultController, RateLimiter, controlMiddleware, createRequestLog, type ControlOptions, type Faults, type RateLimit, type RequestLog } from './faults.ts';
import { ApiError, isPlainObject, listen, queryList, queryParam, quietApp, readJson } from './http.ts';
import { IdempotencyStore, idempotencyMiddleware } from './idempotency.ts';
import { compareDecimals, isUnsignedDecimalString } from './money.ts';
import {
  DEFAULT_COUNTS, SEQ_INVOICE_STATUSES, SEQ_TAX_STATUSES, SequenceFactory, computeLine, computeLineTax, sumDocument,
  type Counts, type LineInput, type SeqAddress, type SeqContact, type SeqCreditNote, type SeqCustomer, type SeqInvoice,
  type SeqInvoiceStatus, type SeqLineItem, type SeqPolicy, type SeqProduct, type SequenceData,
} from './sequence-data.ts';
import { IndexedMap, ViewCache, buildView, idView, paginate, type Page, type View } from './store.ts';
import { Deliverer, postRaw, sequenceSignatureHeader, tamperBody, type DeliveryOptions, type DeliveryRecord } from './webhooks.ts';

export * from './sequence-data.ts';

export const SEQUENCE_API_VERSION = '2024-07-30';

export interface FakeSequenceOptions {
  port?: number;
  seed?: number;
  counts?: Partial<Counts>;
  /** Lines per generated invoice: a number or an inclusive [min, max] range (default [1, 10]). */
  linesPerInvoice?: number | [number, number];
  rateLimit?: RateLimit;
  latencyMs?: number;
  clientId?: string;
  clientSecret?: string;
  /** Versions the `Sequence-Version` header may name (default ['2024-07-30']); the first is the default. */
  apiVersions?: string[];
  /** `sequenceAccountId` in webhook bodies. */
  accountId?: string;
  /** Secret `sendWebhook` signs with when no policy is registered and none is passed. */
  webhookSecret?: string;
  /** Retries of automatic webhook deliveries (default 3 attempts, 100 ms doubling). */
  webhookDelivery?: DeliveryOptions;
  /** Also send webhooks for writes made through the HTTP API (PUT line item, PUT customer, archive...). Default false. */
  emitOnApiWrites?: boolean;
  /** Cap of the request log (default 10,000). */
  requestLogLimit?: number;
}

export interface SequenceWebhookEvent {
  /** Notification type, e.g. INVOICE_CREATED, CUSTOMER_UPDATED, CREDIT_NOTE_ISSUED. */
  type: string;
  resourceId?: string;
  /** Override the resource sent (default: the live record named by resourceId). */
  resource?: unknown;
  resourceType?: string;
}

export interface SequenceSendOptions {
  /** Signing secret (default: first registered policy's secret, else the handle's `webhookSecret`). */
  secret?: string;
  /** `t` in unix ms (default now). */
  timestamp?: number;
  /** Change the body after signing so the signature no longer verifies. */
  tamper?: boolean;
  /** Send this header value instead of a computed signature. */
  signature?: string;
}

export interface WebhookSendResult {
  status: number;
  body: string;
  sent: { body: string; headers: Record<string, string> };
}

export type NewInvoice = Partial<SeqInvoice> & { lines?: LineInput[]; lineCount?: number };
export type NewCreditNote = Partial<SeqCreditNote> & { lines?: LineInput[] };

export interface FakeSequence {
  /** Base URL including /api, e.g. http://127.0.0.1:PORT/api */
  url: string;
  origin: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** The `Authorization` header value for the configured credentials. */
  authorization: string;
  apiVersion: string;
  accountId: string;
  webhookSecret: string;
  data: SequenceData;
  requests: RequestLog;
  faults: Faults;
  setRateLimit(rl: RateLimit | undefined): void;
  setLatency(ms: number): void;
  /** Every automatic delivery attempt (newest last). */
  deliveries: DeliveryRecord[];
  /** Resolves when automatic deliveries started so far (with retries) are done. */
  deliveriesIdle(): Promise<void>;
  /** Same as POST /notifications/policies. */
  registerPolicy(p: { name?: string; notificationTypes: string[]; recipients: string[]; webhookSecret?: string }): SeqPolicy;

  createCustomer(partial?: Partial<SeqCustomer>): SeqCustomer;
  updateCustomer(id: string, patch: Partial<SeqCustomer>): SeqCustomer;
  archiveCustomer(id: string): SeqCustomer;
  deleteCustomer(id: string): SeqCustomer;
  createProduct(partial?: Partial<SeqProduct>): SeqProduct;
  updateProduct(id: string, patch: Partial<SeqProduct>): SeqProduct;
  createInvoice(partial?: NewInvoice): SeqInvoice;
  updateInvoice(id: string, patch: Partial<SeqInvoice>): SeqInvoice;
  deleteInvoice(id: string): SeqInvoice;
  createCreditNote(partial?: NewCreditNote): SeqCreditNote;
  updateCreditNote(id: string, patch: Partial<SeqCreditNote>): SeqCreditNote;
  deleteCreditNote(id: string): SeqCreditNote;
  /** Lines of an invoice (or credit note), live objects. */
  lineItemsOf(documentId: string): SeqLineItem[];

  /** Build, sign and POST one webhook now (no retries); returns the receiver's answer. */
  sendWebhook(targetUrl: string, event: SequenceWebhookEvent, opts?: SequenceSendOptions): Promise<WebhookSendResult>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// errors

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'validationError', 401: 'unauthorized', 403: 'forbidden', 404: 'notFound', 405: 'methodNotAllowed', 409: 'conflict',
  413: 'payloadTooLarge', 422: 'unprocessableEntity', 429: 'tooManyRequests', 500: 'internalServerError', 502: 'badGateway',
  503: 'serviceUnavailable', 504: 'gatewayTimeout',
};
const KNOWN_TYPES = new Set([...Object.values(TYPE_BY_STATUS), 'UnrecognisedApiVersion']);

function errorBody(status: number, message: string, type?: string, errors?: unknown): unknown {
  const t = type && KNOWN_TYPES.has(type) ? type : TYPE_BY_STATUS[status] ?? (status >= 500 ? 'internalServerError' : 'badRequest');
  return { error: { type: t, message, ...(errors !== undefined ? { errors } : {}) } };
}

/** A 400 validationError naming the offending key. */
function invalid(key: string, message: string, code = 'invalidValue'): ApiError {
  return new ApiError(400, 'validationError', message, { errors: [{ code, message, key }] });
}

function notFound(what: string, id: string): ApiError {
  return new ApiError(404, 'notFound', `${what} ${id} not found`);
}

// ------------------------------------------------------------------------------------------------

export async function startFakeSequence(opts: FakeSequenceOptions = {}): Promise<FakeSequence> {
  const clientId = opts.clientId ?? 'seq_client';
  const clientSecret = opts.clientSecret ?? 'seq_secret';
  const versions = opts.apiVersions && opts.apiVersions.length > 0 ? opts.apiVersions : [SEQUENCE_API_VERSION];
  const counts: Counts = { ...DEFAULT_COUNTS, ...opts.counts };
  const factory = new SequenceFactory(opts.seed ?? 1);
  factory.generate(counts, opts.linesPerInvoice ?? [1, 10]);
  const data = factory.data;
  const accountId = opts.accountId ?? factory.id('misc', 0).id;
  const webhookSecret = opts.webhookSecret ?? `whsec_${factory.rng.hex(32)}`;
  const emitOnApi = opts.emitOnApiWrites === true;

  const requests = createRequestLog();
  const faults = new FaultController();
  const limiter = new RateLimiter(opts.rateLimit);
  let latency = opts.latencyMs ?? 0;
  const deliverer = new Deliverer(opts.webhookDelivery);
  const idem = new IdempotencyStore();
  const views = new ViewCache();
  const expectedAuth = 'Basic ' + Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64');

  const now = (): string => isoTime(factory.wall.now());

  // ---- webhooks ---------------------------------------------------------------------------------
  const resourceTypeOf = (type: string): string | undefined =>
    type.startsWith('CREDIT_NOTE') ? 'CREDIT_NOTE' : type.startsWith('INVOICE') ? 'INVOICE' : type.startsWith('CUSTOMER') ? 'CUSTOMER'
      : type.startsWith('BILLING_SCHEDULE') ? 'BILLING_SCHEDULE' : undefined;
  const lookup = (resourceType: string | undefined, id: string): unknown =>
    resourceType === 'INVOICE' ? data.invoices.get(id) : resourceType === 'CREDIT_NOTE' ? data.creditNotes.get(id)
      : resourceType === 'CUSTOMER' ? data.customers.get(id) : undefined;

  function webhookBody(type: string, resourceType: string | undefined, resourceId: string | undefined, resource: unknown): string {
    return JSON.stringify({
      notificationType: type,
      sequenceAccountId: accountId,
      ...(resourceType !== undefined ? { resourceType } : {}),
      ...(resourceId !== undefined ? { resourceId } : {}),
      ...(resource !== undefined ? { resource } : {}),
    });
  }

  function emit(type: string, resource: { id: string }): void {
    let body: string | undefined;
    for (const p of data.policies.values()) {
      if (p.channel !== 'WEBHOOK' || !p.notificationTypes.includes(type)) continue;
      body ??= webhookBody(type, resourceTypeOf(type), resource.id, resource);
      for (const url of p.recipients) {
        const t = Date.now();
        deliverer.enqueue(p.id, url, type, resource.id, body, { 'Sequence-Signature': sequenceSignatureHeader(p.webhookSecret, t, body) });
      }
    }
  }
  const emitApi = (type: string, resource: { id: string }): void => {
    if (emitOnApi) emit(type, resource);
  };

  // ---- mutations shared by the helpers and the API ------------------------------------------------
  function mustGet<V>(map: Map<string, V>, what: string, id: string): V {
    const v = map.get(id);
    if (v === undefined) throw notFound(what, id);
    return v;
  }

  function applyCustomerPatch(c: SeqCustomer, body: Record<string, unknown>): void {
    if (body.legalName !== undefined) {
      if (typeof body.legalName !== 'string' || body.legalName.trim() === '') throw invalid('legalName', 'legalName must be a non-empty string');
      c.legalName = body.legalName;
    }
    if (body.address !== undefined) c.address = validateAddress(body.address, 'address');
    if (body.taxStatus !== undefined) {
      if (!SEQ_TAX_STATUSES.includes(body.taxStatus as never)) throw invalid('taxStatus', `taxStatus must be one of ${SEQ_TAX_STATUSES.join(', ')}`);
      c.taxStatus = body.taxStatus as SeqCustomer['taxStatus'];
    }
    for (const k of ['url', 'domain', 'label'] as const) {
      if (body[k] === undefined) continue;
      if (body[k] === null) delete c[k];
      else if (typeof body[k] !== 'string') throw invalid(k, `${k} must be a string`);
      else c[k] = body[k] as string;
    }
    if (body.taxId !== undefined) {
      if (body.taxId === null || body.taxId === '') delete c.taxId;
      else if (typeof body.taxId !== 'string') throw invalid('taxId', 'taxId must be a string');
      else c.taxId = body.taxId;
    }
    if (body.contacts !== undefined) {
      if (!Array.isArray(body.contacts)) throw invalid('contacts', 'contacts must be an array');
      c.contacts = body.contacts.map((x, i): SeqContact => {
        if (!isPlainObject(x) || typeof x.email !== 'string' || typeof x.name !== 'string') throw invalid(`contacts[${i}]`, 'each contact needs name and email strings');
        const pref = x.billingPreference ?? (i === 0 ? 'PRIMARY' : 'STANDARD');
        if (!['PRIMARY', 'STANDARD', 'NONE'].includes(pref as string)) throw invalid(`contacts[${i}].billingPreference`, 'billingPreference must be PRIMARY, STANDARD or NONE');
        return { id: typeof x.id === 'string' ? x.id : factory.id('contact', factory.wall.now()).id, name: x.name, email: x.email, billingPreference: pref as SeqContact['billingPreference'] };
      });
    }
    if (body.customProperties !== undefined) {
      if (!isPlainObject(body.customProperties)) throw invalid('customProperties', 'customProperties must be an object');
      c.customProperties = body.customProperties as Record<string, string>;
    }
  }

  function touchCustomer(c: SeqCustomer): void {
    c.updatedAt = now();
    data.customers.set(c.id, c);
  }

  function touchDocument(kind: 'invoice' | 'creditNote', doc: SeqInvoice | SeqCreditNote): void {
    doc.updatedAt = now();
    if (kind === 'invoice') data.invoices.set(doc.id, doc as SeqInvoice);
    else data.creditNotes.set(doc.id, doc as SeqCreditNote);
  }

  // ---- handle methods --------------------------------------------------------------------------------
  const handle: Omit<FakeSequence, 'url' | 'origin' | 'port' | 'close'> = {
    clientId,
    clientSecret,
    authorization: expectedAuth,
    apiVersion: versions[0]!,
    accountId,
    webhookSecret,
    data,
    requests,
    faults,
    setRateLimit: (rl) => limiter.set(rl),
    setLatency: (ms) => {
      latency = ms;
    },
    deliveries: deliverer.log,
    deliveriesIdle: () => deliverer.idle(),
    registerPolicy(p) {
      return factory.makePolicy({
        name: p.name ?? 'taxbridge',
        notificationTypes: p.notificationTypes,
        recipients: p.recipients,
        channel: 'WEBHOOK',
        webhookSecret: p.webhookSecret ?? `whsec_${factory.rng.hex(32)}`,
      });
    },

    createCustomer(partial = {}) {
      const c = factory.makeCustomer(factory.wall.now(), undefined, partial);
      if (partial.updatedAt === undefined) c.updatedAt = c.createdAt;
      emit('CUSTOMER_CREATED', c);
      return c;
    },
    updateCustomer(id, patch) {
      const c = mustGet(data.customers, 'customer', id);
      Object.assign(c, patch, { id });
      if (patch.updatedAt === undefined) c.updatedAt = now();
      data.customers.set(id, c);
      emit('CUSTOMER_UPDATED', c);
      return c;
    },
    archiveCustomer(id) {
      const c = mustGet(data.customers, 'customer', id);
      const t = now();
      c.archivedAt ??= t;
      c.updatedAt = t;
      data.customers.set(id, c);
      emit('CUSTOMER_ARCHIVED', c);
      return c;
    },
    deleteCustomer(id) {
      const c = mustGet(data.customers, 'customer', id);
      data.customers.delete(id);
      factory.forgetCustomer(id);
      return c;
    },
    createProduct(partial = {}) {
      return factory.makeProduct(factory.wall.now(), undefined, partial);
    },
    updateProduct(id, patch) {
      const p = mustGet(data.products, 'product', id);
      Object.assign(p, patch, { id });
      if (patch.updatedAt === undefined) p.updatedAt = now();
      data.products.set(id, p);
      return p;
    },
    createInvoice(partial = {}) {
      const { lines, lineCount, ...rest } = partial;
      const inv = factory.makeInvoice(factory.wall.now(), rest, lines, lineCount ?? 3);
      if (rest.updatedAt === undefined) inv.updatedAt = inv.createdAt;
      emit('INVOICE_CREATED', inv);
      return inv;
    },
    updateInvoice(id, patch) {
      const inv = mustGet(data.invoices, 'invoice', id);
      const before = inv.status;
      Object.assign(inv, patch, { id });
      if ((inv.status === 'FINAL' || inv.status === 'SENT') && inv.invoiceNumber === undefined) inv.invoiceNumber = factory.nextInvoiceNumber();
      if (patch.updatedAt === undefined) inv.updatedAt = now();
      data.invoices.set(id, inv);
      emit('INVOICE_UPDATED', inv);
      if (before !== inv.status && (inv.status === 'FINAL' || inv.status === 'SENT') && before !== 'FINAL' && before !== 'SENT') emit('INVOICE_ISSUED', inv);
      return inv;
    },
    deleteInvoice(id) {
      const inv = mustGet(data.invoices, 'invoice', id);
      data.invoices.delete(id);
      data.lineItems.delete(id);
      return inv;
    },
    createCreditNote(partial = {}) {
      const { lines, ...rest } = partial;
      const invoiceId = rest.invoiceId ?? factory.rng.pick([...data.invoices.sortedKeys]);
      if (invoiceId === undefined) throw new Error('no invoice to credit');
      const cn = factory.makeCreditNote(factory.wall.now(), invoiceId, rest, lines);
      if (rest.updatedAt === undefined) cn.updatedAt = cn.createdAt;
      emit('CREDIT_NOTE_CREATED', cn);
      return cn;
    },
    updateCreditNote(id, patch) {
      const cn = mustGet(data.creditNotes, 'credit note', id);
      const before = cn.status;
      Object.assign(cn, patch, { id });
      if ((cn.status === 'FINAL' || cn.status === 'SENT') && cn.creditNoteNumber === undefined) cn.creditNoteNumber = factory.nextCreditNoteNumber();
      if (patch.updatedAt === undefined) cn.updatedAt = now();
      data.creditNotes.set(id, cn);
      emit('CREDIT_NOTE_UPDATED', cn);
      if (before !== cn.status && (cn.status === 'FINAL' || cn.status === 'SENT') && before !== 'FINAL' && before !== 'SENT') emit('CREDIT_NOTE_ISSUED', cn);
      return cn;
    },
    deleteCreditNote(id) {
      const cn = mustGet(data.creditNotes, 'credit note', id);
      data.creditNotes.delete(id);
      data.creditNoteLineItems.delete(id);
      const inv = data.invoices.get(cn.invoiceId);
      if (inv) {
        inv.creditNoteIds = inv.creditNoteIds.filter((x) => x !== id);
        data.invoices.touch();
      }
      return cn;
    },
    lineItemsOf(documentId) {
      return data.lineItems.get(documentId) ?? data.creditNoteLineItems.get(documentId) ?? [];
    },

    async sendWebhook(targetUrl, event, o = {}) {
      const resourceType = event.resourceType ?? resourceTypeOf(event.type);
      let resource = event.resource;
      if (resource === undefined && event.resourceId !== undefined) {
        resource = lookup(resourceType, event.resourceId);
        if (resource === undefined && resourceType !== undefined) throw new Error(`sendWebhook: no ${resourceType} with id ${event.resourceId}`);
      }
      const body = webhookBody(event.type, resourceType, event.resourceId, resource);
      const secret = o.secret ?? data.policies.values().next().value?.webhookSecret ?? webhookSecret;
      const t = o.timestamp ?? Date.now();
      const headers = { 'Sequence-Signature': o.signature ?? sequenceSignatureHeader(secret, t, body) };
      const sentBody = o.tamper ? tamperBody(body) : body;
      const res = await postRaw(targetUrl, sentBody, headers);
      return { ...res, sent: { body: sentBody, headers } };
    },
  };

  // ---- HTTP ------------------------------------------------------------------------------------------
  const app = quietApp();

  const control: ControlOptions = {
    log: requests,
    logLimit: opts.requestLogLimit ?? 10_000,
    faults,
    limiter,
    latency: () => latency,
    errorBody: (status, message) => errorBody(status, message),
    commonHeaders: (ctx) => {
      const v = ctx.get('sequence-version');
      return { 'Sequence-Version': v !== '' && versions.includes(v) ? v : versions[0]! };
    },
  };
  app.use(controlMiddleware(control));

  // error rendering
  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) {
          ctx.status = 404;
          ctx.body = errorBody(404, `no route for ${ctx.method} ${ctx.path}`);
        } else if (ctx.status === 405) {
          ctx.status = 405;
          ctx.body = errorBody(405, `${ctx.method} is not allowed on ${ctx.path}`);
        }
      }
    } catch (e) {
      if (e instanceof ApiError) {
        ctx.status = e.status;
        if (e.headers) ctx.set(e.headers);
        const errors = e.details?.errors ?? (typeof e.details?.field === 'string' ? [{ code: e.kind, message: e.message, key: e.details.field }] : undefined);
        ctx.body = errorBody(e.status, e.message, e.kind, errors);
      } else {
        ctx.status = 500;
        ctx.body = errorBody(500, `internal error: ${(e as Error).message}`);
      }
    }
  });

  // auth + version
  app.use(async (ctx, next) => {
    const auth = ctx.get('authorization');
    if (auth === '') throw new ApiError(401, 'unauthorized', 'Missing Authorization header: use HTTP Basic with your client id and secret');
    if (!/^basic /i.test(auth) || auth.slice(6) !== expectedAuth.slice(6)) throw new ApiError(401, 'unauthorized', 'Invalid client id or client secret');
    const v = ctx.get('sequence-version');
    if (v !== '' && !versions.includes(v)) {
      throw new ApiError(400, 'UnrecognisedApiVersion', `No matching API version found for '${v}'. Supported versions: ${versions.join(', ')}`);
    }
    await next();
  });
  app.use(idempotencyMiddleware(idem));

  const router = new Router({ prefix: '/api' });

  // ---- pagination ----
  interface Paging {
    limit: number;
    after?: string;
    before?: string;
    desc: boolean;
  }
  const decodeCursor = (key: 'after' | 'before', raw: string): string => {
    const s = Buffer.from(raw, 'base64').toString('utf8');
    if (!UUID_RE.test(s)) throw invalid(key, `${key} is not a valid cursor`, 'invalidCursor');
    return s;
  };
  function paging(ctx: Koa.Context, defaultLimit = 20, defaultDesc = true): Paging {
    const rawLimit = queryParam(ctx, 'limit');
    let limit = defaultLimit;
    if (rawLimit !== undefined) {
      if (!/^-?\d+$/.test(rawLimit)) throw invalid('limit', `limit must be an integer between 1 and 100, got '${rawLimit}'`);
      limit = Number(rawLimit);
      if (limit < 1 || limit > 100) throw invalid('limit', `limit must be between 1 and 100, got ${limit}`, 'outOfRange');
    }
    const a = queryParam(ctx, 'after');
    const b = queryParam(ctx, 'before');
    if (a !== undefined && b !== undefined) throw invalid('before', 'use either after or before, not both');
    const so = queryParam(ctx, 'sortOrder');
    let desc = defaultDesc;
    if (so !== undefined) {
      const u = so.toUpperCase();
      if (u !== 'ASC' && u !== 'DESC') throw invalid('sortOrder', `sortOrder must be ASC or DESC, got '${so}'`);
      desc = u === 'DESC';
    }
    const sb = queryParam(ctx, 'sortBy');
    if (sb !== undefined && sb !== 'createdAt' && sb !== 'id') throw invalid('sortBy', `sortBy must be createdAt (the only order this fake supports), got '${sb}'`);
    return {
      limit,
      desc,
      ...(a !== undefined && a !== '' ? { after: decodeCursor('after', a) } : {}),
      ...(b !== undefined && b !== '' ? { before: decodeCursor('before', b) } : {}),
    };
  }
  function envelope<V>(items: V[], page: Page): unknown {
    return {
      items,
      pagination: {
        ...(page.hasAfter && page.lastKey !== undefined ? { after: Buffer.from(page.lastKey, 'utf8').toString('base64') } : {}),
        ...(page.hasBefore && page.firstKey !== undefined ? { before: Buffer.from(page.firstKey, 'utf8').toString('base64') } : {}),
        totalResultSize: page.total,
      },
    };
  }
  function list<V>(ctx: Koa.Context, name: string, map: IndexedMap<V>, filter?: { sig: string; keep: (v: V) => boolean }): void {
    const p = paging(ctx);
    const view: View = filter ? views.get(`${name}|${filter.sig}`, map.version, () => buildView(map, filter.keep)) : idView(map as IndexedMap<unknown>);
    const page = paginate(view, p);
    ctx.body = envelope(page.ids.map((id) => map.get(id)!), page);
  }
  function listLines(ctx: Koa.Context, lines: SeqLineItem[]): void {
    const p = paging(ctx, 100, false);
    const ids = lines.map((l) => l.id);
    const byId = new Map(lines.map((l) => [l.id, l]));
    const page = paginate({ keys: ids, ids }, p);
    ctx.body = envelope(page.ids.map((id) => byId.get(id)!), page);
  }

  async function bodyObject(ctx: Koa.Context): Promise<Record<string, unknown>> {
    const b = await readJson(ctx);
    if (!isPlainObject(b)) throw new ApiError(400, 'validationError', 'request body must be a JSON object');
    return b;
  }

  // ---- customers ----
  router.get('/customers', (ctx) => list(ctx, 'customers', data.customers));
  router.post('/customers', async (ctx) => {
    const b = await bodyObject(ctx);
    if (typeof b.legalName !== 'string' || b.legalName.trim() === '') throw invalid('legalName', 'legalName is required', 'required');
    if (b.address === undefined) throw invalid('address', 'address is required', 'required');
    const address = validateAddress(b.address, 'address');
    const c = factory.makeCustomer(factory.wall.now(), Number.MAX_SAFE_INTEGER, {
      legalName: b.legalName, address, contacts: [], integrationIds: [], customProperties: {}, taxStatus: 'TAXED',
    });
    delete c.taxId;
    delete c.label;
    delete c.archivedAt;
    delete c.url;
    delete c.domain;
    applyCustomerPatch(c, { ...b, address: undefined });
    c.updatedAt = c.createdAt;
    data.customers.set(c.id, c);
    emitApi('CUSTOMER_CREATED', c);
    ctx.status = 201;
    ctx.body = c;
  });
  router.get('/customers/:id', (ctx) => {
    ctx.body = mustGet(data.customers, 'customer', ctx.params.id!);
  });
  router.put('/customers/:id', async (ctx) => {
    const c = mustGet(data.customers, 'customer', ctx.params.id!);
    const b = await bodyObject(ctx);
    const copy = structuredClone(c);
    applyCustomerPatch(copy, b); // validate on a copy so a bad request changes nothing
    Object.assign(c, copy);
    for (const k of Object.keys(c) as (keyof SeqCustomer)[]) if (!(k in copy)) delete c[k];
    touchCustomer(c);
    emitApi('CUSTOMER_UPDATED', c);
    ctx.body = c;
  });
  router.post('/customers/:id/archive', (ctx) => {
    const c = mustGet(data.customers, 'customer', ctx.params.id!);
    if (c.archivedAt === undefined) {
      c.archivedAt = now();
      c.updatedAt = c.archivedAt;
      data.customers.set(c.id, c);
      emitApi('CUSTOMER_ARCHIVED', c);
    }
    ctx.body = c;
  });

  // ---- products / tax categories ----
  router.get('/products', (ctx) => list(ctx, 'products', data.products));
  router.get('/products/:id', (ctx) => {
    ctx.body = mustGet(data.products, 'product', ctx.params.id!);
  });
  router.put('/products/:id', async (ctx) => {
    const p = mustGet(data.products, 'product', ctx.params.id!);
    const b = await bodyObject(ctx);
    if (b.name !== undefined && (typeof b.name !== 'string' || b.name === '')) throw invalid('name', 'name must be a non-empty string');
    if (b.taxCategoryId !== undefined && b.taxCategoryId !== null && !data.taxCategories.has(String(b.taxCategoryId))) {
      throw invalid('taxCategoryId', `tax category ${String(b.taxCategoryId)} does not exist`);
    }
    if (typeof b.name === 'string') p.name = b.name;
    if (typeof b.label === 'string') p.label = b.label;
    if (b.taxCategoryId === null) delete p.taxCategoryId;
    else if (typeof b.taxCategoryId === 'string') p.taxCategoryId = b.taxCategoryId;
    p.updatedAt = now();
    data.products.set(p.id, p);
    ctx.body = p;
  });
  router.get('/tax-categories', (ctx) => list(ctx, 'taxCategories', data.taxCategories));
  router.get('/tax-categories/:id', (ctx) => {
    ctx.body = mustGet(data.taxCategories, 'tax category', ctx.params.id!);
  });

  // ---- invoices ----
  router.get('/invoices', (ctx) => {
    const statuses = queryList(ctx, 'invoiceStatus');
    for (const s of statuses ?? []) {
      if (!SEQ_INVOICE_STATUSES.includes(s as SeqInvoiceStatus)) throw invalid('invoiceStatus', `invoiceStatus must be one of ${SEQ_INVOICE_STATUSES.join(', ')}, got '${s}'`);
    }
    const customerId = queryParam(ctx, 'customerId');
    if (!statuses?.length && customerId === undefined) return list(ctx, 'invoices', data.invoices);
    const set = statuses?.length ? new Set(statuses) : undefined;
    list(ctx, 'invoices', data.invoices, {
      sig: `s=${[...(set ?? [])].sort().join(',')}|c=${customerId ?? ''}`,
      keep: (inv) => (!set || set.has(inv.status)) && (customerId === undefined || inv.customerId === customerId),
    });
  });
  router.get('/invoices/:id', (ctx) => {
    ctx.body = mustGet(data.invoices, 'invoice', ctx.params.id!);
  });

  function documentRoutes(base: string, kind: 'invoice' | 'creditNote'): void {
    const what = kind === 'invoice' ? 'invoice' : 'credit note';
    const docs = kind === 'invoice' ? data.invoices : data.creditNotes;
    const lineMap = kind === 'invoice' ? data.lineItems : data.creditNoteLineItems;
    const updatedEvent = kind === 'invoice' ? 'INVOICE_UPDATED' : 'CREDIT_NOTE_UPDATED';
    router.get(`${base}/:id/line-items`, (ctx) => {
      const doc = mustGet<SeqInvoice | SeqCreditNote>(docs, what, ctx.params.id!);
      listLines(ctx, lineMap.get(doc.id) ?? []);
    });
    router.get(`${base}/:id/line-items/all`, (ctx) => {
      const doc = mustGet<SeqInvoice | SeqCreditNote>(docs, what, ctx.params.id!);
      ctx.body = { items: lineMap.get(doc.id) ?? [] };
    });
    router.get(`${base}/:id/line-items/:lineId`, (ctx) => {
      const doc = mustGet<SeqInvoice | SeqCreditNote>(docs, what, ctx.params.id!);
      const line = (lineMap.get(doc.id) ?? []).find((l) => l.id === ctx.params.lineId);
      if (!line) throw notFound('line item', ctx.params.lineId!);
      ctx.body = line;
    });
    router.put(`${base}/:id/line-items/:lineId`, async (ctx) => {
      const doc = mustGet<SeqInvoice | SeqCreditNote>(docs, what, ctx.params.id!);
      const lines = lineMap.get(doc.id) ?? [];
      const line = lines.find((l) => l.id === ctx.params.lineId);
      if (!line) throw notFound('line item', ctx.params.lineId!);
      const b = await bodyObject(ctx);
      if (doc.status !== 'DRAFT') {
        throw invalid('status', `${what} ${doc.id} is ${doc.status}: only DRAFT ${what}s can be changed`, 'invalidState');
      }
      const next = validateLinePatch(b);
      const amountsChanged = next.quantity !== undefined || next.rate !== undefined;
      Object.assign(line, next);
      if (amountsChanged) computeLine(line, doc.currency);
      else computeLineTax(line, doc.currency);
      sumDocument(doc, lines);
      doc.calculatedAt = now();
      touchDocument(kind, doc);
      emitApi(updatedEvent, doc);
      ctx.body = line;
    });
  }
  documentRoutes('/invoices', 'invoice');

  // ---- credit notes ----
  router.get('/credit-notes', (ctx) => {
    const invoiceId = queryParam(ctx, 'invoiceId');
    const customerId = queryParam(ctx, 'customerId');
    if (invoiceId === undefined && customerId === undefined) return list(ctx, 'creditNotes', data.creditNotes);
    list(ctx, 'creditNotes', data.creditNotes, {
      sig: `i=${invoiceId ?? ''}|c=${customerId ?? ''}`,
      keep: (cn) => (invoiceId === undefined || cn.invoiceId === invoiceId) && (customerId === undefined || cn.customerId === customerId),
    });
  });
  router.get('/credit-notes/:id', (ctx) => {
    ctx.body = mustGet(data.creditNotes, 'credit note', ctx.params.id!);
  });
  documentRoutes('/credit-notes', 'creditNote');

  // ---- notification policies ----
  router.get('/notifications/policies', (ctx) => list(ctx, 'policies', data.policies));
  router.get('/notifications/policies/:id', (ctx) => {
    ctx.body = mustGet(data.policies, 'notification policy', ctx.params.id!);
  });
  router.delete('/notifications/policies/:id', (ctx) => {
    mustGet(data.policies, 'notification policy', ctx.params.id!);
    data.policies.delete(ctx.params.id!);
    ctx.status = 204;
  });
  router.post('/notifications/policies', async (ctx) => {
    const b = await bodyObject(ctx);
    if (typeof b.name !== 'string' || b.name === '') throw invalid('name', 'name is required', 'required');
    if (!Array.isArray(b.notificationTypes) || b.notificationTypes.length === 0 || !b.notificationTypes.every((t) => typeof t === 'string' && t !== '')) {
      throw invalid('notificationTypes', 'notificationTypes must be a non-empty array of strings');
    }
    const channel = b.channel ?? 'WEBHOOK';
    if (channel !== 'WEBHOOK' && channel !== 'EMAIL') throw invalid('channel', 'channel must be WEBHOOK or EMAIL');
    if (!Array.isArray(b.recipients) || b.recipients.length === 0) throw invalid('recipients', 'recipients must be a non-empty array');
    b.recipients.forEach((r, i) => {
      if (typeof r !== 'string') throw invalid(`recipients[${i}]`, 'recipients must be strings');
      if (channel === 'WEBHOOK' && !/^https?:\/\/[^\s]+$/.test(r)) throw invalid(`recipients[${i}]`, `recipient '${r}' is not an http(s) URL`);
    });
    if (b.webhookSecret !== undefined && (typeof b.webhookSecret !== 'string' || b.webhookSecret.length < 8)) {
      throw invalid('webhookSecret', 'webhookSecret must be a string of at least 8 characters');
    }
    const policy = factory.makePolicy({
      name: b.name,
      notificationTypes: b.notificationTypes as string[],
      recipients: b.recipients as string[],
      channel: channel as string,
      webhookSecret: (b.webhookSecret as string | undefined) ?? `whsec_${factory.rng.hex(32)}`,
    });
    ctx.status = 201;
    ctx.body = policy;
  });

  app.use(router.routes());
  app.use(router.allowedMethods());

  const l = await listen(app, opts.port ?? 0);
  return {
    ...handle,
    url: `${l.origin}/api`,
    origin: l.origin,
    port: l.port,
    async close() {
      deliverer.stop();
      await l.close();
    },
  };
}

// ------------------------------------------------------------------------------------------------
// validation

const US_CA = new Set(['US', 'CA']);

function validateAddress(v: unknown, key: string): SeqAddress {
  if (!isPlainObject(v)) throw invalid(key, `${key} must be an object`);
  const str = (k: string, required: boolean): string | undefined => {
    const x = v[k];
    if (x === undefined || x === null || x === '') {
      if (required) throw invalid(`${key}.${k}`, `${key}.${k} is required`, 'required');
      return undefined;
    }
    if (typeof x !== 'string') throw invalid(`${key}.${k}`, `${key}.${k} must be a string`);
    return x;
  };
  const line1 = str('line1', true)!;
  const line2 = str('line2', false);
  const town = str('town', true)!;
  const postcode = str('postcode', true)!;
  const country = str('country', true)!;
  if (!/^[A-Z]{2}$/.test(country)) throw invalid(`${key}.country`, `${key}.country must be an ISO 3166-1 alpha-2 code, got '${country}'`);
  const state = str('state', US_CA.has(country));
  return { line1, ...(line2 !== undefined ? { line2 } : {}), town, ...(state !== undefined ? { state } : {}), postcode, country };
}

function validateLinePatch(b: Record<string, unknown>): Partial<SeqLineItem> {
  const out: Partial<SeqLineItem> = {};
  if (b.taxRate !== undefined) {
    if (!isUnsignedDecimalString(b.taxRate)) {
      throw invalid('taxRate', `taxRate must be a decimal string fraction such as "0.0825", got ${JSON.stringify(b.taxRate)}`);
    }
    if (compareDecimals(b.taxRate, '1') > 0) throw invalid('taxRate', `taxRate is a fraction ("0.2" = 20%); ${b.taxRate} is above 1`, 'outOfRange');
    out.taxRate = b.taxRate;
  }
  for (const k of ['quantity', 'rate'] as const) {
    if (b[k] === undefined) continue;
    if (!isUnsignedDecimalString(b[k])) throw invalid(k, `${k} must be a non-negative decimal string, got ${JSON.stringify(b[k])}`);
    out[k] = b[k];
  }
  for (const k of ['title', 'description'] as const) {
    if (b[k] === undefined) continue;
    if (typeof b[k] !== 'string' || (k === 'title' && b[k] === '')) throw invalid(k, `${k} must be a${k === 'title' ? ' non-empty' : ''} string`);
    out[k] = b[k];
  }
  if (Object.keys(out).length === 0) throw invalid('taxRate', 'nothing to update: send taxRate (and/or title, description, quantity, rate)', 'required');
  return out;
}

