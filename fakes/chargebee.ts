/**
 * A fake Chargebee API (v2, Product Catalog 2.0) for one site, as a real koa HTTP server on 127.0.0.1:
 * Basic auth with the API key as user name, `{list:[{customer:{...}}], next_offset}` lists with
 * `limit`/`offset`, `field[op]=value` filters, `include_deleted`, `sort_by[asc]=updated_at`, customers,
 * items, item prices, invoices and credit notes in cents, Chargebee's error envelope, 429 past the
 * site's rate, form-encoded POSTs (index-last arrays), and webhooks protected by HTTP Basic auth.
 *
 * Site emulation: the site comes from the Host header (`<site>.chargebee.com` or `<site>.localhost`),
 * else from a `/sites/<site>/api/v2/...` path prefix (so a templated base URL can carry it to
 * loopback in tests), else it is the configured site. Another site answers 404 site_not_found.
 * See /work/shared/research/chargebee-api.md.
 */
import type Koa from 'koa';
import { Router } from '@koa/router';
import { FaultController, RateLimiter, controlMiddleware, createRequestLog, type Faults, type RateLimit, type RequestLog } from './faults.ts';
import { ApiError, listen, quietApp, readRawBody } from './http.ts';
import { FormError, canonicalForm, decodeForm, formIdempotency, isFormRequest, isFormTree, type FormTree } from './stripe-form.ts';
import {
  CB_INVOICE_STATUSES, CHARGEBEE_DEFAULT_COUNTS, ChargebeeFactory, unixS,
  type CbAddress, type CbCreditNote, type CbCustomer, type CbEvent, type CbInvoice, type CbItem, type CbItemPrice, type CbLineInput,
  type CbWebhookEndpoint, type ChargebeeCounts, type ChargebeeData,
} from './chargebee-data.ts';
import { ViewCache, buildView, paginate, type IndexedMap } from './store.ts';
import { Deliverer, postRaw, type DeliveryOptions, type DeliveryRecord } from './webhooks.ts';

export * from './chargebee-data.ts';

export interface ChargebeeWebhookTarget {
  url: string;
  /** HTTP Basic credentials sent with each delivery (none: no Authorization header). */
  username?: string;
  password?: string;
  /** Event types (default: all). */
  events?: string[];
  disabled?: boolean;
}

export interface FakeChargebeeOptions {
  port?: number;
  seed?: number;
  counts?: Partial<ChargebeeCounts>;
  /** Lines per generated invoice (default [1, 6]). */
  linesPerInvoice?: number | [number, number];
  /** The site this fake serves (default `taxbridge-test`). */
  site?: string;
  /** Full-access API key (default `test_taxbridge_fake_key`). */
  apiKey?: string;
  /** Read-only keys: GETs work, POSTs answer 401 api_authorization_failed. */
  readOnlyKeys?: string[];
  /** Default: a test site's 150 requests per minute. `false`: no limit. */
  rateLimit?: RateLimit | false;
  latencyMs?: number;
  /** Webhooks configured "in the dashboard" (API-registered endpoints are added to these). */
  webhookTargets?: ChargebeeWebhookTarget[];
  webhookDelivery?: DeliveryOptions;
  /** Line items embedded per invoice before `line_items_next_offset` pages them (default 300). */
  lineItemsLimit?: number;
  requestLogLimit?: number;
}

export interface ChargebeeSendOptions {
  username?: string;
  password?: string;
  /** Send no Authorization header at all. */
  omitAuth?: boolean;
  eventId?: string;
  occurredAt?: number;
}

export interface ChargebeeSendResult {
  status: number;
  body: string;
  sent: { body: string; headers: Record<string, string> };
}

export interface ChargebeeWrite {
  method: string;
  path: string;
  contentType: string;
  raw: string;
  params: FormTree | undefined;
  status: number;
  at: number;
}

export type NewChargebeeInvoice = Partial<CbInvoice> & { lines?: CbLineInput[]; lineCount?: number };

export interface FakeChargebee {
  /** `http://127.0.0.1:PORT/api/v2` (the configured site). */
  url: string;
  origin: string;
  port: number;
  site: string;
  /** `http://127.0.0.1:PORT/sites/<site>/api/v2`: the site carried in the path, for templated base URLs. */
  siteUrl(site?: string): string;
  apiKey: string;
  /** `Basic base64(<apiKey>:)` */
  authorization: string;
  data: ChargebeeData;
  requests: RequestLog;
  /** The site each request was addressed to, in request order. */
  sitesSeen: string[];
  writes: ChargebeeWrite[];
  faults: Faults;
  /** The limit in force (undefined: none). */
  readonly rateLimit: RateLimit | undefined;
  setRateLimit(rl: RateLimit | undefined): void;
  setLatency(ms: number): void;
  webhookTargets: ChargebeeWebhookTarget[];
  deliveries: DeliveryRecord[];
  deliveriesIdle(): Promise<void>;

  createCustomer(partial?: Partial<CbCustomer>): CbCustomer;
  updateCustomer(id: string, patch: Partial<CbCustomer>): CbCustomer;
  deleteCustomer(id: string): CbCustomer;
  createItem(partial?: Partial<CbItem>): CbItem;
  updateItem(id: string, patch: Partial<CbItem>): CbItem;
  deleteItem(id: string): CbItem;
  updateItemPrice(id: string, patch: Partial<CbItemPrice>): CbItemPrice;
  /** A new invoice (Chargebee computes its tax itself); sends invoice_generated. */
  createInvoice(partial?: NewChargebeeInvoice): CbInvoice;
  updateInvoice(id: string, patch: Partial<CbInvoice>): CbInvoice;
  deleteInvoice(id: string): CbInvoice;
  createCreditNote(opts: { invoice: string } & Partial<CbCreditNote>): CbCreditNote;
  deleteCreditNote(id: string): CbCreditNote;
  /** POST one event now (no retries), Basic auth from opts or the first target. */
  sendWebhook(targetUrl: string, event: { event_type: string; content: Record<string, unknown> } | CbEvent, opts?: ChargebeeSendOptions): Promise<ChargebeeSendResult>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// errors: {message, type?, api_error_code, param?, error_code, error_msg, error_param?, http_status_code}

function cbError(status: number, message: string, apiErrorCode: string, type?: string, param?: string): Record<string, unknown> {
  return {
    message,
    ...(type !== undefined ? { type } : {}),
    api_error_code: apiErrorCode,
    ...(param !== undefined ? { param } : {}),
    error_code: apiErrorCode,
    error_msg: message,
    ...(param !== undefined ? { error_param: param } : {}),
    http_status_code: status,
  };
}

function codeFor(status: number): string {
  if (status === 401) return 'api_authentication_failed';
  if (status === 403) return 'api_authorization_failed';
  if (status === 404) return 'resource_not_found';
  if (status === 429) return 'api_request_limit_exceeded';
  if (status === 503) return 'internal_temporary_error';
  if (status >= 500) return 'internal_error';
  return 'param_wrong_value';
}

/** A 400 for a parameter (kind = api_error_code). */
function bad(param: string, message: string, code = 'param_wrong_value'): ApiError {
  return new ApiError(400, code, `${param} : ${message}`, { type: 'invalid_request', param, validation: true });
}

function notFound(what: string, id: string): ApiError {
  return new ApiError(404, 'resource_not_found', `Sorry, we couldn't find that resource: ${what} ${id} not found`, { type: 'invalid_request', validation: true });
}

function render(e: unknown): { status: number; body: unknown } {
  if (e instanceof ApiError) {
    return { status: e.status, body: cbError(e.status, e.message, e.kind, e.details?.type as string | undefined, e.details?.param as string | undefined) };
  }
  return { status: 500, body: cbError(500, 'Sorry, something went wrong when trying to process the request.', 'internal_error') };
}

// ------------------------------------------------------------------------------------------------
// parameters

const P = (prefix: string, k: string): string => (prefix === '' ? k : `${prefix}[${k}]`);
const INT_RE = /^-?\d{1,15}$/;

function allow(p: FormTree, names: readonly string[], prefix = ''): void {
  for (const k of Object.keys(p)) {
    if (!names.includes(k) && !(prefix === '' && /^cf_[a-z0-9_]+$/.test(k))) throw bad(P(prefix, k), 'is not a known parameter for this operation');
  }
}
function str(p: FormTree, k: string, prefix = ''): string | undefined {
  const v = p[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(P(prefix, k), 'must be a single value');
  if (v.length > 5000) throw bad(P(prefix, k), 'cannot be longer than 5000 characters');
  return v;
}
function int(p: FormTree, k: string, prefix = ''): number | undefined {
  const v = str(p, k, prefix);
  if (v === undefined) return undefined;
  if (!INT_RE.test(v)) throw bad(P(prefix, k), `invalid integer value '${v}'`);
  return Number(v);
}
function bool(p: FormTree, k: string, prefix = ''): boolean | undefined {
  const v = str(p, k, prefix);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw bad(P(prefix, k), `must be true or false, got '${v}'`);
  return v === 'true';
}

/**
 * Chargebee's index-last arrays: `item_prices[item_price_id][0]=a&item_prices[quantity][0]=2` ->
 * [{item_price_id: 'a', quantity: '2'}]. The Stripe style (`item_prices[0][item_price_id]`) is refused.
 */
function columns(p: FormTree, k: string, fields: readonly string[]): FormTree[] | undefined {
  const v = p[k];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw bad(k, `arrays of objects take the index last, e.g. ${k}[${fields[0]}][0]=..., not ${k}[0][${fields[0]}]=...`);
  if (!isFormTree(v)) throw bad(k, `must be sent as ${k}[${fields[0]}][0]=...`);
  allow(v, fields, k);
  const rows: FormTree[] = [];
  for (const [field, col] of Object.entries(v)) {
    if (!Array.isArray(col)) throw bad(`${k}[${field}]`, `must be indexed, e.g. ${k}[${field}][0]=...`);
    col.forEach((x, i) => {
      if (typeof x !== 'string') throw bad(`${k}[${field}][${i}]`, 'must be a single value');
      (rows[i] ??= Object.create(null) as FormTree)[field] = x;
    });
  }
  return rows.filter((r) => r !== undefined);
}

const ADDRESS_FIELDS = ['first_name', 'last_name', 'email', 'company', 'phone', 'line1', 'line2', 'line3', 'city', 'state_code', 'state', 'zip', 'country', 'validation_status'];
function address(p: FormTree, k: string, kind: CbAddress['object'], current?: CbAddress): CbAddress | undefined {
  const v = p[k];
  if (v === undefined) return undefined;
  if (!isFormTree(v)) throw bad(k, `must be sent as ${k}[line1]=...`);
  allow(v, ADDRESS_FIELDS, k);
  const out: CbAddress = { ...(current ?? { validation_status: 'not_validated', object: kind }) };
  for (const f of ADDRESS_FIELDS) {
    const x = str(v, f, k);
    if (x === undefined || f === 'email' || f === 'phone') continue;
    if (f === 'country' && x !== '' && !/^[A-Z]{2}$/.test(x)) throw bad(`${k}[country]`, `invalid country code '${x}' (ISO 3166-1 alpha-2 expected)`);
    if (x === '') delete (out as unknown as Record<string, unknown>)[f];
    else (out as unknown as Record<string, unknown>)[f] = x;
  }
  return out;
}

type Kind = 'timestamp' | 'string' | 'enum' | 'boolean';
interface FilterSpec<V> {
  name: string;
  kind: Kind;
  get: (v: V) => string | number | boolean | undefined;
  /** Allowed values of an enum. */
  values?: readonly string[];
}
const OPS: Record<Kind, readonly string[]> = {
  timestamp: ['after', 'before', 'on', 'between'],
  string: ['is', 'is_not', 'starts_with', 'in', 'not_in', 'is_present'],
  enum: ['is', 'is_not', 'in', 'not_in'],
  boolean: ['is'],
};

function jsonList(param: string, raw: string, n?: number): string[] {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw bad(param, `must be a JSON array such as ["a","b"], got '${raw}'`);
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' && typeof x !== 'number') || (n !== undefined && v.length !== n)) {
    throw bad(param, n ? `must be a JSON array of ${n} values such as [1700000000,1700086400]` : 'must be a JSON array of values');
  }
  return v.map(String);
}

function buildFilter<V>(spec: FilterSpec<V>, op: string, raw: string): (v: V) => boolean {
  const param = `${spec.name}[${op}]`;
  const ts = (s: string): number => {
    if (!/^\d{1,12}$/.test(s)) throw bad(param, `must be a Unix timestamp in seconds, got '${s}'`);
    return Number(s);
  };
  const check = (s: string): string => {
    if (spec.values && !spec.values.includes(s)) throw bad(param, `invalid value '${s}'; one of ${spec.values.join(', ')}`);
    return s;
  };
  if (spec.kind === 'timestamp') {
    const get = (v: V): number => Number(spec.get(v) ?? 0);
    if (op === 'between') {
      const [a, b] = jsonList(param, raw, 2).map(ts) as [number, number];
      return (v) => get(v) >= a && get(v) <= b;
    }
    const t = ts(raw);
    if (op === 'after') return (v) => get(v) > t;
    if (op === 'before') return (v) => get(v) < t;
    return (v) => Math.floor(get(v) / 86400) === Math.floor(t / 86400);
  }
  const get = (v: V): string | undefined => {
    const x = spec.get(v);
    return x === undefined ? undefined : String(x);
  };
  if (spec.kind === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw bad(param, `must be true or false, got '${raw}'`);
    return (v) => get(v) === raw;
  }
  switch (op) {
    case 'is': return ((x) => (v: V) => get(v) === x)(check(raw));
    case 'is_not': return ((x) => (v: V) => get(v) !== x)(check(raw));
    case 'starts_with': return (v) => (get(v) ?? '').startsWith(raw);
    case 'is_present': {
      if (raw !== 'true' && raw !== 'false') throw bad(param, `must be true or false, got '${raw}'`);
      return (v) => (get(v) !== undefined && get(v) !== '') === (raw === 'true');
    }
    case 'in': {
      const set = new Set(jsonList(param, raw).map(check));
      return (v) => set.has(get(v) ?? '');
    }
    default: {
      const set = new Set(jsonList(param, raw).map(check));
      return (v) => !set.has(get(v) ?? '');
    }
  }
}

// ------------------------------------------------------------------------------------------------

export async function startFakeChargebee(opts: FakeChargebeeOptions = {}): Promise<FakeChargebee> {
  const site = opts.site ?? 'taxbridge-test';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(site)) throw new Error(`site must be a lower-case host label, got ${site}`);
  const apiKey = opts.apiKey ?? 'test_taxbridge_fake_key';
  const readOnly = new Set(opts.readOnlyKeys ?? []);
  const counts: ChargebeeCounts = { ...CHARGEBEE_DEFAULT_COUNTS, ...opts.counts };
  const factory = new ChargebeeFactory(opts.seed ?? 1);
  factory.generate(counts, opts.linesPerInvoice ?? [1, 6]);
  const data = factory.data;
  const lineLimit = Math.max(1, opts.lineItemsLimit ?? 300);

  const requests = createRequestLog();
  const sitesSeen: string[] = [];
  const writes: ChargebeeWrite[] = [];
  const faults = new FaultController();
  const limiter = new RateLimiter(opts.rateLimit === false ? undefined : opts.rateLimit ?? { requests: 150, perSeconds: 60 });
  let latency = opts.latencyMs ?? 0;
  const deliverer = new Deliverer(opts.webhookDelivery);
  const views = new ViewCache();
  const nowS = (): number => unixS(factory.wall.now());

  // eslint-disable-next-line prefer-const
  let self: FakeChargebee;

  // ---- events and webhooks ----
  interface Target {
    key: string;
    url: string;
    username?: string;
    password?: string;
    events?: string[];
  }
  function targets(type: string): Target[] {
    const out: Target[] = [];
    for (const t of self.webhookTargets) {
      if (t.disabled || (t.events && !t.events.includes(type))) continue;
      out.push(withUrlCredentials({ key: t.url, url: t.url, username: t.username, password: t.password }));
    }
    for (const ep of data.webhookEndpoints.values()) {
      if (ep.disabled || (ep.enabled_events && !ep.enabled_events.includes(type))) continue;
      const cred = data.endpointCredentials.get(ep.id);
      out.push(withUrlCredentials({ key: ep.id, url: ep.url, username: cred?.username, password: cred?.password }));
    }
    return out;
  }
  /** `https://user:pass@host/path` (credentials pasted into the URL) is sent as a Basic header to the bare URL. */
  function withUrlCredentials(t: Target): Target {
    const u = new URL(t.url);
    if (u.username === '' && u.password === '') return t;
    const username = t.username ?? decodeURIComponent(u.username);
    const password = t.password ?? decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    return { ...t, url: u.toString(), username, password };
  }
  const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`;
  function emit(type: string, content: Record<string, unknown>, source: CbEvent['source'] = 'api', skipWebhooks = false): CbEvent {
    const hooks = skipWebhooks ? [] : targets(type);
    const id = `ev_${factory.randomId()}`;
    const ev: CbEvent = {
      id, occurred_at: nowS(), source, ...(source === 'admin_console' ? { user: 'admin@taxbridge-demo.example' } : {}), object: 'event', api_version: 'v2',
      event_type: type, webhook_status: skipWebhooks ? 'skipped' : hooks.length > 0 ? 'scheduled' : 'not_configured', content: structuredClone(content),
    };
    factory.born(id);
    data.events.set(id, ev);
    const body = JSON.stringify(ev);
    const resourceId = (Object.values(content)[0] as { id?: string } | undefined)?.id;
    for (const t of hooks) {
      const headers: Record<string, string> = { 'User-Agent': 'ChargeBee' };
      if (t.username !== undefined) headers.Authorization = basic(t.username, t.password ?? '');
      deliverer.enqueue(t.key, t.url, type, resourceId, body, headers);
    }
    return ev;
  }

  // ---- rendering ----
  function renderInvoice(inv: CbInvoice, limit = lineLimit, offset = 0): CbInvoice & { line_items_next_offset?: string } {
    if (offset === 0 && inv.line_items.length <= limit) return inv;
    const end = offset + limit;
    const page = inv.line_items.slice(offset, end);
    const ids = new Set(page.map((l) => l.id));
    return {
      ...inv, line_items: page, line_item_taxes: inv.line_item_taxes.filter((t) => ids.has(t.line_item_id)),
      ...(end < inv.line_items.length ? { line_items_next_offset: String(end) } : {}),
    };
  }

  function mustGet<V extends { deleted: boolean }>(map: Map<string, V>, what: string, id: string): V {
    const v = map.get(id);
    if (v === undefined || v.deleted) throw notFound(what, id);
    return v;
  }
  const touch = <V extends { updated_at: number; resource_version: number }>(map: IndexedMap<V>, id: string, v: V): void => {
    const ms = factory.wall.now();
    v.updated_at = unixS(ms);
    v.resource_version = ms;
    map.set(id, v);
  };

  // ---- HTTP ------------------------------------------------------------------------------------------
  const app = quietApp();

  // site emulation first, so the request log records the rewritten path
  app.use(async (ctx, next) => {
    const host = (ctx.get('host').split(':')[0] ?? '').toLowerCase();
    let seen: string | undefined;
    const m = /^\/sites\/([^/]+)(\/.*)?$/.exec(ctx.path);
    if (m) {
      seen = decodeURIComponent(m[1]!);
      ctx.path = m[2] ?? '/';
    } else if (/\.(chargebee\.com|localhost)$/.test(host)) seen = host.split('.')[0];
    seen ??= site;
    sitesSeen.push(seen);
    if (sitesSeen.length > 10_000) sitesSeen.splice(0, 1_000);
    (ctx.state as { site?: string }).site = seen;
    await next();
  });

  app.use(controlMiddleware({
    log: requests,
    logLimit: opts.requestLogLimit ?? 10_000,
    faults,
    limiter,
    latency: () => latency,
    errorBody: (status, message) => cbError(status, status === 429 ? `Sorry, access has been blocked temporarily due to request count exceeding acceptable limits. (${message})` : message, codeFor(status)),
  }));

  app.use(async (ctx, next) => {
    try {
      await next();
      if ((ctx.body === undefined || ctx.body === null) && (ctx.status === 404 || ctx.status === 405)) {
        ctx.status = 404;
        ctx.body = cbError(404, `Sorry, we couldn't find the resource ${ctx.method} ${ctx.path}`, 'resource_not_found', 'invalid_request');
      }
    } catch (e) {
      const r = render(e);
      ctx.status = r.status;
      ctx.body = r.body;
    } finally {
      if (ctx.method === 'POST') {
        const st = ctx.state as { rawBody?: string; params?: FormTree };
        writes.push({ method: ctx.method, path: ctx.path, contentType: ctx.get('content-type'), raw: st.rawBody ?? '', params: st.params, status: ctx.status, at: Date.now() });
        if (writes.length > 10_000) writes.splice(0, 1_000);
      }
    }
  });

  // site, auth, parameters
  app.use(async (ctx, next) => {
    const seen = (ctx.state as { site: string }).site;
    if (seen !== site) throw new ApiError(404, 'site_not_found', `Sorry, we couldn't find the site ${seen}`);
    const auth = ctx.get('authorization');
    if (!/^basic /i.test(auth)) {
      throw new ApiError(401, 'api_authentication_failed', 'Sorry, authentication failed. Use HTTP Basic authentication with your API key as the user name and an empty password.');
    }
    const dec = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const key = dec.includes(':') ? dec.slice(0, dec.indexOf(':')) : dec;
    if (key !== apiKey && !readOnly.has(key)) throw new ApiError(401, 'api_authentication_failed', 'Sorry, authentication failed. Invalid api key.');
    if (readOnly.has(key) && ctx.method !== 'GET') throw new ApiError(401, 'api_authorization_failed', 'Sorry, the API key used has read-only access and cannot be used for this operation.');
    const st = ctx.state as { params?: FormTree };
    try {
      if (ctx.method === 'POST') {
        const raw = await readRawBody(ctx);
        if (!isFormRequest(ctx, raw)) {
          throw new ApiError(400, 'param_wrong_value', `Sorry, the request body must be application/x-www-form-urlencoded; got Content-Type '${ctx.get('content-type') || '(none)'}'.`, { type: 'invalid_request', validation: true });
        }
        st.params = decodeForm(raw);
      } else st.params = decodeForm(ctx.querystring);
    } catch (e) {
      if (e instanceof FormError) throw bad(e.param, e.message);
      throw e;
    }
    await next();
  });

  app.use(formIdempotency({
    header: 'chargebee-idempotency-key',
    replayedHeader: 'chargebee-idempotency-replayed',
    ttlMs: 24 * 3600 * 1000,
    mismatch: (key) => new ApiError(409, 'invalid_state_for_request', `The idempotency key '${key}' was already used with different parameters.`, { type: 'invalid_request' }),
    inFlight: (key) => new ApiError(409, 'invalid_state_for_request', `A request with idempotency key '${key}' is still being processed.`, { type: 'invalid_request' }),
    tooLong: () => bad('chargebee-idempotency-key', 'cannot be longer than 255 characters'),
    storable: (e) => e.details?.validation !== true,
    render,
    fingerprint: async (ctx) => canonicalForm((ctx.state as { params?: FormTree }).params),
  }));

  const router = new Router({ prefix: '/api/v2' });
  const params = (ctx: Koa.Context): FormTree => (ctx.state as { params: FormTree }).params;
  const skipHooks = (ctx: Koa.Context): boolean => ctx.get('chargebee-event-webhook') === 'all-disabled';

  // ---- lists ----
  interface ListSpec<V> {
    resource: string;
    filters: FilterSpec<V>[];
    /** Attributes `sort_by[asc|desc]` accepts, with their values. */
    sorts: Record<string, (v: V) => number>;
    /** Default order: this attribute descending (creation order when absent). */
    defaultSort?: string;
    extra?: string[];
    render?: (v: V) => unknown;
    deletable: boolean;
  }
  const pad = (n: number): string => String(Math.max(0, Math.floor(n))).padStart(13, '0');
  function listCb<V extends { id: string; deleted?: boolean }>(ctx: Koa.Context, map: IndexedMap<V>, spec: ListSpec<V>): void {
    const p = params(ctx);
    const names = spec.filters.map((f) => f.name);
    allow(p, ['limit', 'offset', 'sort_by', ...(spec.deletable ? ['include_deleted'] : []), ...names, ...(spec.extra ?? [])]);
    const limit = int(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw bad('limit', `must be between 1 and 100, got ${limit}`);
    const includeDeleted = spec.deletable ? bool(p, 'include_deleted') === true : false;
    const conds: { sig: string; keep: (v: V) => boolean }[] = [];
    if (!includeDeleted) conds.push({ sig: 'live', keep: (v) => v.deleted !== true });
    for (const f of spec.filters) {
      const v = p[f.name];
      if (v === undefined) continue;
      if (!isFormTree(v)) throw bad(f.name, `filters take an operator, e.g. ${f.name}[${OPS[f.kind][0]}]=...`);
      for (const [op, raw] of Object.entries(v)) {
        if (!OPS[f.kind].includes(op)) throw bad(`${f.name}[${op}]`, `unsupported operator; ${f.name} takes ${OPS[f.kind].join(', ')}`);
        if (typeof raw !== 'string') throw bad(`${f.name}[${op}]`, 'must be a single value');
        conds.push({ sig: `${f.name}.${op}=${raw}`, keep: buildFilter(f, op, raw) });
      }
    }
    let attr = spec.defaultSort;
    let desc = true;
    const sb = p.sort_by;
    if (sb !== undefined) {
      if (!isFormTree(sb)) throw bad('sort_by', 'must be sort_by[asc]=<attribute> or sort_by[desc]=<attribute>');
      allow(sb, ['asc', 'desc'], 'sort_by');
      const keys = Object.keys(sb);
      if (keys.length !== 1) throw bad('sort_by', 'give exactly one of sort_by[asc] and sort_by[desc]');
      desc = keys[0] === 'desc';
      const a = str(sb, keys[0]!, 'sort_by')!;
      if (!Object.hasOwn(spec.sorts, a)) throw bad(`sort_by[${keys[0]}]`, `cannot sort by '${a}'; sortable: ${Object.keys(spec.sorts).join(', ')}`);
      attr = a;
    }
    const sortVal = attr !== undefined ? spec.sorts[attr]! : undefined;
    const orderOf = (id: string): number => data.order.get(id) ?? 0;
    const keyOf = (v: V, id: string): string => `${pad(sortVal ? sortVal(v) : orderOf(id))}|${pad(orderOf(id))}`;
    const view = views.get(`${spec.resource}|${attr ?? ''}|${conds.map((c) => c.sig).join('|')}`, map.version, () => buildView(map, (v) => conds.every((c) => c.keep(v)), keyOf));
    let after: string | undefined;
    const off = str(p, 'offset');
    if (off !== undefined && off !== '') {
      let parts: unknown;
      try {
        parts = JSON.parse(off);
      } catch {
        parts = undefined;
      }
      if (!Array.isArray(parts) || parts.length !== 2 || !parts.every((x) => typeof x === 'string' && /^\d{1,13}$/.test(x))) throw bad('offset', `invalid value '${off}': pass next_offset from the previous page unchanged`);
      after = `${pad(Number(parts[0]))}|${pad(Number(parts[1]))}`;
    }
    const page = paginate(view, { after, limit, desc });
    const out = spec.render ?? ((v: V) => v);
    const last = page.lastKey;
    ctx.body = {
      list: page.ids.map((id) => ({ [spec.resource]: out(map.get(id)!) })),
      ...(page.hasAfter && last !== undefined ? { next_offset: JSON.stringify(last.split('|').map((x) => String(Number(x)))) } : {}),
    };
  }

  const ts = <V>(name: string, get: (v: V) => number | undefined): FilterSpec<V> => ({ name, kind: 'timestamp', get });
  const s = <V>(name: string, get: (v: V) => string | undefined): FilterSpec<V> => ({ name, kind: 'string', get });
  const en = <V>(name: string, values: readonly string[], get: (v: V) => string | undefined): FilterSpec<V> => ({ name, kind: 'enum', values, get });

  // ---- customers ----
  const customerSpec: ListSpec<CbCustomer> = {
    resource: 'customer', deletable: true,
    filters: [s('id', (v) => v.id), s('email', (v) => v.email), s('first_name', (v) => v.first_name), s('last_name', (v) => v.last_name), s('company', (v) => v.company),
      en('taxability', ['taxable', 'exempt'], (v) => v.taxability), ts('created_at', (v) => v.created_at), ts('updated_at', (v) => v.updated_at)],
    sorts: { created_at: (v) => v.created_at, updated_at: (v) => v.updated_at },
  };
  router.get('/customers', (ctx) => listCb(ctx, data.customers, customerSpec));
  router.get('/customers/:id', (ctx) => {
    ctx.body = { customer: mustGet(data.customers, 'customer', ctx.params.id!) };
  });
  const CUSTOMER_FIELDS = ['id', 'first_name', 'last_name', 'email', 'company', 'phone', 'vat_number', 'taxability', 'entity_code', 'exempt_number', 'customer_type', 'preferred_currency_code', 'auto_collection', 'net_term_days'];
  function customerPatch(p: FormTree, c: CbCustomer | undefined, withAddress: boolean): Partial<CbCustomer> {
    allow(p, [...CUSTOMER_FIELDS.filter((f) => c === undefined || f !== 'id'), ...(withAddress ? ['billing_address'] : [])]);
    const out: Record<string, unknown> = {};
    for (const f of ['first_name', 'last_name', 'email', 'company', 'phone', 'vat_number', 'entity_code', 'exempt_number'] as const) {
      const v = str(p, f);
      if (v !== undefined) out[f] = v === '' ? undefined : v;
    }
    const tx = str(p, 'taxability');
    if (tx !== undefined) {
      if (tx !== 'taxable' && tx !== 'exempt') throw bad('taxability', `invalid value '${tx}'; one of taxable, exempt`);
      out.taxability = tx;
    }
    const ct = str(p, 'customer_type');
    if (ct !== undefined) {
      if (!['residential', 'business', 'senior_citizen', 'industrial'].includes(ct)) throw bad('customer_type', `invalid value '${ct}'`);
      out.customer_type = ct;
    }
    const cur = str(p, 'preferred_currency_code');
    if (cur !== undefined) {
      if (!/^[A-Z]{3}$/.test(cur)) throw bad('preferred_currency_code', `invalid currency code '${cur}'`);
      out.preferred_currency_code = cur;
    }
    if (out.vat_number !== undefined) out.vat_number_status = 'not_validated';
    const nt = int(p, 'net_term_days');
    if (nt !== undefined) out.net_term_days = nt;
    if (withAddress) {
      const a = address(p, 'billing_address', 'billing_address', c?.billing_address);
      if (a) out.billing_address = a;
    }
    return out as Partial<CbCustomer>;
  }
  router.post('/customers', (ctx) => {
    const p = params(ctx);
    const patch = customerPatch(p, undefined, true);
    const id = str(p, 'id');
    if (id !== undefined && (id === '' || id.length > 50 || !/^[A-Za-z0-9_.\-@]+$/.test(id))) throw bad('id', 'invalid id');
    if (id && data.customers.has(id)) throw new ApiError(400, 'duplicate_entry', `id : The value ${id} is already present.`, { type: 'invalid_request', param: 'id' });
    const c = factory.makeCustomer(factory.wall.now(), Number.MAX_SAFE_INTEGER, {
      ...(id ? { id } : {}), first_name: undefined, last_name: undefined, email: undefined, company: undefined, vat_number: undefined, vat_number_status: undefined,
      taxability: 'taxable', entity_code: undefined, exempt_number: undefined, billing_address: undefined, preferred_currency_code: 'USD', ...patch,
    });
    c.updated_at = c.created_at;
    for (const k of Object.keys(c) as (keyof CbCustomer)[]) if (c[k] === undefined) delete c[k];
    data.customers.set(c.id, c);
    emit('customer_created', { customer: c }, 'api', skipHooks(ctx));
    ctx.body = { customer: c };
  });
  function updateCustomer(ctx: Koa.Context, withAddress: boolean): void {
    const c = mustGet(data.customers, 'customer', ctx.params.id!);
    const patch = customerPatch(params(ctx), c, withAddress);
    Object.assign(c, patch);
    for (const k of Object.keys(c) as (keyof CbCustomer)[]) if (c[k] === undefined) delete c[k];
    touch(data.customers, c.id, c);
    emit('customer_changed', { customer: c }, 'api', skipHooks(ctx));
    ctx.body = { customer: c };
  }
  router.post('/customers/:id', (ctx) => updateCustomer(ctx, false));
  router.post('/customers/:id/update_billing_info', (ctx) => updateCustomer(ctx, true));
  router.post('/customers/:id/delete', (ctx) => {
    allow(params(ctx), ['delete_payment_method']);
    const c = deleteCustomer(ctx.params.id!, skipHooks(ctx));
    ctx.body = { customer: c };
  });
  function deleteCustomer(id: string, skip = false): CbCustomer {
    const c = mustGet(data.customers, 'customer', id);
    c.deleted = true;
    touch(data.customers, id, c);
    factory.forgetCustomer(id);
    emit('customer_deleted', { customer: c }, 'api', skip);
    return c;
  }

  // ---- items and item prices ----
  const ITEM_STATUS = ['active', 'archived', 'deleted'];
  router.get('/items', (ctx) => listCb(ctx, data.items, {
    resource: 'item', deletable: true,
    filters: [s('id', (v) => v.id), s('item_family_id', (v) => v.item_family_id), en('type', ['plan', 'addon', 'charge'], (v) => v.type),
      en('status', ITEM_STATUS, (v) => v.status), s('name', (v) => v.name), ts('updated_at', (v) => v.updated_at)],
    sorts: { updated_at: (v) => v.updated_at },
  }));
  router.get('/items/:id', (ctx) => {
    ctx.body = { item: mustGet(data.items, 'item', ctx.params.id!) };
  });
  router.get('/item_prices', (ctx) => listCb(ctx, data.itemPrices, {
    resource: 'item_price', deletable: true,
    filters: [s('id', (v) => v.id), s('item_id', (v) => v.item_id), s('item_family_id', (v) => v.item_family_id), en('item_type', ['plan', 'addon', 'charge'], (v) => v.item_type),
      s('currency_code', (v) => v.currency_code), en('status', ITEM_STATUS, (v) => v.status), en('period_unit', ['day', 'week', 'month', 'year'], (v) => v.period_unit),
      ts('created_at', (v) => v.created_at), ts('updated_at', (v) => v.updated_at)],
    sorts: { updated_at: (v) => v.updated_at },
  }));
  router.get('/item_prices/:id', (ctx) => {
    ctx.body = { item_price: mustGet(data.itemPrices, 'item price', ctx.params.id!) };
  });

  // ---- invoices ----
  router.get('/invoices', (ctx) => listCb(ctx, data.invoices, {
    resource: 'invoice', deletable: true,
    filters: [s('id', (v) => v.id), s('customer_id', (v) => v.customer_id), s('subscription_id', (v) => v.subscription_id), en('status', CB_INVOICE_STATUSES, (v) => v.status),
      en('price_type', ['tax_exclusive', 'tax_inclusive'], (v) => v.price_type), ts('date', (v) => v.date), ts('paid_at', (v) => v.paid_at), ts('updated_at', (v) => v.updated_at),
      { name: 'recurring', kind: 'boolean', get: (v) => v.recurring }],
    sorts: { date: (v) => v.date, updated_at: (v) => v.updated_at },
    render: (v) => renderInvoice(v),
  }));
  router.get('/invoices/:id', (ctx) => {
    const p = params(ctx);
    allow(p, ['line_items_limit', 'line_items_offset']);
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    const lim = int(p, 'line_items_limit') ?? lineLimit;
    if (lim < 1 || lim > 300) throw bad('line_items_limit', `must be between 1 and 300, got ${lim}`);
    const off = str(p, 'line_items_offset');
    if (off !== undefined && !/^\d{1,6}$/.test(off)) throw bad('line_items_offset', `invalid value '${off}': pass line_items_next_offset unchanged`);
    ctx.body = { invoice: renderInvoice(inv, lim, Number(off ?? 0)) };
  });
  router.post('/invoices/:id/update_details', (ctx) => {
    const inv = mustGet(data.invoices, 'invoice', ctx.params.id!);
    const p = params(ctx);
    allow(p, ['billing_address', 'shipping_address', 'vat_number', 'vat_number_prefix', 'po_number', 'comment', 'statement_descriptor']);
    if (inv.status === 'voided') throw new ApiError(400, 'invalid_state_for_request', `Invoice ${inv.id} is voided and cannot be updated.`, { type: 'invalid_request' });
    const a = address(p, 'billing_address', 'billing_address', inv.billing_address);
    if (a) inv.billing_address = a;
    for (const f of ['vat_number', 'po_number', 'comment'] as const) {
      const v = str(p, f);
      if (v !== undefined) {
        if (v === '') delete inv[f];
        else inv[f] = v;
      }
    }
    touch(data.invoices, inv.id, inv);
    emit('invoice_updated', { invoice: renderInvoice(inv) }, 'api', skipHooks(ctx));
    ctx.body = { invoice: renderInvoice(inv) };
  });
  router.post('/invoices/create_for_charge_items_and_charges', (ctx) => {
    const p = params(ctx);
    allow(p, ['customer_id', 'currency_code', 'item_prices', 'charges', 'po_number', 'invoice_note']);
    const customer = str(p, 'customer_id');
    if (!customer) throw bad('customer_id', 'cannot be blank', 'param_not_present');
    const lines: CbLineInput[] = [];
    (columns(p, 'item_prices', ['item_price_id', 'quantity', 'unit_price', 'date_from', 'date_to']) ?? []).forEach((r, i) => {
      const id = str(r, 'item_price_id', `item_prices[${i}]`);
      if (!id) throw bad(`item_prices[item_price_id][${i}]`, 'cannot be blank', 'param_not_present');
      const price = data.itemPrices.get(id);
      if (!price || price.deleted) throw notFound('item price', id);
      const q = int(r, 'quantity', 'item_prices');
      const u = int(r, 'unit_price', 'item_prices');
      lines.push({ item_price_id: id, ...(q !== undefined ? { quantity: q } : {}), ...(u !== undefined ? { unit_amount: u } : {}) });
    });
    (columns(p, 'charges', ['amount', 'description', 'taxable']) ?? []).forEach((r, i) => {
      const amount = int(r, 'amount', 'charges');
      if (amount === undefined) throw bad(`charges[amount][${i}]`, 'cannot be blank', 'param_not_present');
      lines.push({ unit_amount: amount, quantity: 1, description: str(r, 'description', 'charges') ?? 'One-time charge' });
    });
    if (lines.length === 0) throw bad('item_prices', 'give at least one item_prices[item_price_id][0] or charges[amount][0]', 'param_not_present');
    mustGet(data.customers, 'customer', customer);
    const cur = str(p, 'currency_code');
    const inv = factory.makeInvoice(factory.wall.now(), { customer_id: customer, status: 'payment_due', ...(cur ? { currency_code: cur } : {}), ...(str(p, 'po_number') ? { po_number: str(p, 'po_number') } : {}) }, lines);
    inv.updated_at = inv.date;
    data.invoices.set(inv.id, inv);
    emit('invoice_generated', { invoice: renderInvoice(inv) }, 'api', skipHooks(ctx));
    ctx.body = { invoice: renderInvoice(inv) };
  });

  // ---- credit notes ----
  router.get('/credit_notes', (ctx) => listCb(ctx, data.creditNotes, {
    resource: 'credit_note', deletable: true,
    filters: [s('id', (v) => v.id), s('customer_id', (v) => v.customer_id), s('subscription_id', (v) => v.subscription_id), s('reference_invoice_id', (v) => v.reference_invoice_id),
      en('type', ['adjustment', 'refundable', 'store'], (v) => v.type), en('status', ['adjusted', 'refunded', 'refund_due', 'voided'], (v) => v.status),
      ts('date', (v) => v.date), ts('updated_at', (v) => v.updated_at), ts('voided_at', (v) => v.voided_at)],
    sorts: { date: (v) => v.date, updated_at: (v) => v.updated_at },
  }));
  router.get('/credit_notes/:id', (ctx) => {
    ctx.body = { credit_note: mustGet(data.creditNotes, 'credit note', ctx.params.id!) };
  });

  // ---- events ----
  router.get('/events', (ctx) => listCb(ctx, data.events as unknown as IndexedMap<CbEvent & { deleted?: boolean }>, {
    resource: 'event', deletable: false,
    filters: [s('id', (v) => v.id), s('event_type', (v) => v.event_type), s('source', (v) => v.source), s('webhook_status', (v) => v.webhook_status),
      ts('occurred_at', (v) => v.occurred_at)],
    sorts: { occurred_at: (v) => v.occurred_at },
    defaultSort: 'occurred_at',
  }));
  router.get('/events/:id', (ctx) => {
    const ev = data.events.get(ctx.params.id!);
    if (!ev) throw notFound('event', ctx.params.id!);
    ctx.body = { event: ev };
  });

  // ---- webhook endpoints (the caller picks the Basic-auth credentials; Chargebee generates none) ----
  function readEndpoint(p: FormTree): { ep: Partial<CbWebhookEndpoint>; cred?: { username: string; password: string } } {
    allow(p, ['name', 'url', 'api_version', 'enabled_events', 'basic_auth_username', 'basic_auth_password', 'primary_url', 'disabled', 'send_card_resource', 'chargebee_response_schema_type']);
    const ep: Partial<CbWebhookEndpoint> = {};
    const name = str(p, 'name');
    if (name !== undefined) ep.name = name;
    const url = str(p, 'url');
    if (url !== undefined) {
      if (!/^https?:\/\/[^\s]+$/.test(url)) throw bad('url', `invalid URL '${url}'`);
      ep.url = url;
    }
    const v = str(p, 'api_version');
    if (v !== undefined) {
      if (v !== 'v1' && v !== 'v2') throw bad('api_version', `invalid value '${v}'; one of v1, v2`);
      ep.api_version = v;
    }
    const ev = p.enabled_events;
    if (ev !== undefined) {
      if (!Array.isArray(ev) || ev.some((x) => typeof x !== 'string' || !/^[a-z_]+$/.test(x))) throw bad('enabled_events', 'send event types as enabled_events[0]=invoice_generated&enabled_events[1]=...');
      ep.enabled_events = ev as string[];
    }
    const d = bool(p, 'disabled');
    if (d !== undefined) ep.disabled = d;
    const pu = bool(p, 'primary_url');
    if (pu !== undefined) ep.primary_url = pu;
    const scr = bool(p, 'send_card_resource');
    if (scr !== undefined) ep.send_card_resource = scr;
    const u = str(p, 'basic_auth_username');
    const pw = str(p, 'basic_auth_password');
    if ((u === undefined) !== (pw === undefined)) throw bad(u === undefined ? 'basic_auth_username' : 'basic_auth_password', 'basic_auth_username and basic_auth_password go together');
    return { ep, ...(u !== undefined ? { cred: { username: u, password: pw! } } : {}) };
  }
  router.post('/webhook_endpoints', (ctx) => {
    const { ep, cred } = readEndpoint(params(ctx));
    if (!ep.name) throw bad('name', 'cannot be blank', 'param_not_present');
    if (!ep.url) throw bad('url', 'cannot be blank', 'param_not_present');
    if (!ep.api_version) throw bad('api_version', 'cannot be blank', 'param_not_present');
    if (data.webhookEndpoints.size >= 5) throw new ApiError(400, 'resource_limit_exhausted', 'Sorry, a site can have at most 5 webhook endpoints.', { type: 'invalid_request' });
    const id = `whv2_${factory.randomId()}`;
    const full: CbWebhookEndpoint = {
      id, name: ep.name, url: ep.url, api_version: ep.api_version, disabled: ep.disabled ?? false, primary_url: ep.primary_url ?? data.webhookEndpoints.size === 0,
      ...(ep.enabled_events ? { enabled_events: ep.enabled_events } : {}), send_card_resource: ep.send_card_resource ?? false,
      chargebee_response_schema_type: 'compat', object: 'webhook_endpoint',
    };
    factory.born(id);
    data.webhookEndpoints.set(id, full);
    if (cred) data.endpointCredentials.set(id, cred);
    ctx.body = { webhook_endpoint: full };
  });
  router.get('/webhook_endpoints', (ctx) => listCb(ctx, data.webhookEndpoints as unknown as IndexedMap<CbWebhookEndpoint & { deleted?: boolean }>, {
    resource: 'webhook_endpoint', deletable: false, filters: [], sorts: {},
  }));
  router.get('/webhook_endpoints/:id', (ctx) => {
    const ep = data.webhookEndpoints.get(ctx.params.id!);
    if (!ep) throw notFound('webhook endpoint', ctx.params.id!);
    ctx.body = { webhook_endpoint: ep };
  });
  router.post('/webhook_endpoints/:id', (ctx) => {
    const cur = data.webhookEndpoints.get(ctx.params.id!);
    if (!cur) throw notFound('webhook endpoint', ctx.params.id!);
    const { ep, cred } = readEndpoint(params(ctx));
    Object.assign(cur, ep);
    if (cred) data.endpointCredentials.set(cur.id, cred);
    data.webhookEndpoints.set(cur.id, cur);
    ctx.body = { webhook_endpoint: cur };
  });
  router.post('/webhook_endpoints/:id/delete', (ctx) => {
    const ep = data.webhookEndpoints.get(ctx.params.id!);
    if (!ep) throw notFound('webhook endpoint', ctx.params.id!);
    data.webhookEndpoints.delete(ep.id);
    data.endpointCredentials.delete(ep.id);
    ctx.body = { webhook_endpoint: ep };
  });

  app.use(router.routes());
  app.use(router.allowedMethods());

  const l = await listen(app, opts.port ?? 0);

  self = {
    url: `${l.origin}/api/v2`,
    origin: l.origin,
    port: l.port,
    site,
    siteUrl: (x = site) => `${l.origin}/sites/${encodeURIComponent(x)}/api/v2`,
    apiKey,
    authorization: `Basic ${Buffer.from(`${apiKey}:`, 'utf8').toString('base64')}`,
    data,
    requests,
    sitesSeen,
    writes,
    faults,
    get rateLimit() {
      return limiter.current;
    },
    setRateLimit: (rl) => limiter.set(rl),
    setLatency: (ms) => {
      latency = ms;
    },
    webhookTargets: opts.webhookTargets ? [...opts.webhookTargets] : [],
    deliveries: deliverer.log,
    deliveriesIdle: () => deliverer.idle(),

    createCustomer(partial = {}) {
      const c = factory.makeCustomer(factory.wall.now(), undefined, partial);
      if (partial.updated_at === undefined) c.updated_at = c.created_at;
      emit('customer_created', { customer: c }, 'admin_console');
      return c;
    },
    updateCustomer(id, patch) {
      const c = mustGet(data.customers, 'customer', id);
      Object.assign(c, patch, { id });
      touch(data.customers, id, c);
      emit('customer_changed', { customer: c }, 'admin_console');
      return c;
    },
    deleteCustomer: (id) => deleteCustomer(id),
    createItem(partial = {}) {
      const it = factory.makeItem(factory.wall.now(), undefined, partial);
      emit('item_created', { item: it }, 'admin_console');
      return it;
    },
    updateItem(id, patch) {
      const it = mustGet(data.items, 'item', id);
      Object.assign(it, patch, { id });
      touch(data.items, id, it);
      emit('item_updated', { item: it }, 'admin_console');
      return it;
    },
    deleteItem(id) {
      const it = mustGet(data.items, 'item', id);
      it.deleted = true;
      it.status = 'deleted';
      touch(data.items, id, it);
      emit('item_deleted', { item: it }, 'admin_console');
      return it;
    },
    updateItemPrice(id, patch) {
      const p = mustGet(data.itemPrices, 'item price', id);
      Object.assign(p, patch, { id });
      touch(data.itemPrices, id, p);
      emit(p.deleted ? 'item_price_deleted' : 'item_price_updated', { item_price: p }, 'admin_console');
      return p;
    },
    createInvoice(partial = {}) {
      const { lines, lineCount, ...rest } = partial;
      const inv = factory.makeInvoice(factory.wall.now(), { status: 'payment_due', ...rest }, lines, lineCount ?? 3);
      if (rest.updated_at === undefined) {
        inv.updated_at = inv.date;
        inv.resource_version = inv.date * 1000;
      }
      data.invoices.set(inv.id, inv);
      emit('invoice_generated', { invoice: renderInvoice(inv), ...(data.customers.has(inv.customer_id) ? { customer: data.customers.get(inv.customer_id) } : {}) }, 'scheduled_job');
      return inv;
    },
    updateInvoice(id, patch) {
      const inv = mustGet(data.invoices, 'invoice', id);
      Object.assign(inv, patch, { id });
      touch(data.invoices, id, inv);
      emit('invoice_updated', { invoice: renderInvoice(inv) }, 'admin_console');
      return inv;
    },
    deleteInvoice(id) {
      const inv = mustGet(data.invoices, 'invoice', id);
      inv.deleted = true;
      touch(data.invoices, id, inv);
      emit('invoice_deleted', { invoice: renderInvoice(inv) }, 'admin_console');
      return inv;
    },
    createCreditNote(o) {
      const { invoice, ...rest } = o;
      mustGet(data.invoices, 'invoice', invoice);
      const cn = factory.makeCreditNote(factory.wall.now(), invoice, rest);
      emit('credit_note_created', { credit_note: cn }, 'admin_console');
      return cn;
    },
    deleteCreditNote(id) {
      const cn = mustGet(data.creditNotes, 'credit note', id);
      cn.deleted = true;
      touch(data.creditNotes, id, cn);
      emit('credit_note_deleted', { credit_note: cn }, 'admin_console');
      return cn;
    },
    async sendWebhook(targetUrl, event, o = {}) {
      const ev: CbEvent = 'object' in event && event.object === 'event' ? event as CbEvent : {
        id: o.eventId ?? `ev_${factory.randomId()}`, occurred_at: o.occurredAt ?? nowS(), source: 'api', object: 'event', api_version: 'v2',
        event_type: event.event_type, webhook_status: 'scheduled', content: event.content,
      };
      const body = JSON.stringify(ev);
      const first = self.webhookTargets.find((t) => t.username !== undefined);
      const user = o.username ?? first?.username;
      const pass = o.password ?? first?.password ?? '';
      const headers: Record<string, string> = { 'User-Agent': 'ChargeBee' };
      if (!o.omitAuth && user !== undefined) headers.Authorization = basic(user, pass);
      const res = await postRaw(targetUrl, body, headers);
      return { ...res, sent: { body, headers } };
    },
    async close() {
      deliverer.stop();
      await l.close();
    },
  };
  return self;
}

