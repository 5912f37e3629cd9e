/**
 * A fake QuickBooks Online Accounting API (v3) as a real koa HTTP server on 127.0.0.1, with the fake
 * OAuth 2.0 server of ./oauth.ts (Intuit's paths, `realmId` on the redirect, rotating refresh tokens)
 * on its own port, as Intuit has separate OAuth and API hosts.
 *
 * Several companies (realms), each with customers, items, invoices, credit memos, tax codes and
 * rates; `/v3/company/:realmId/...` with `minorversion`, realm-scoped bearer tokens, the SQL-like
 * query endpoint, read by id, create / sparse and full update with SyncToken (5010 when stale),
 * delete / void, Intuit's fault envelopes, per-realm 429 throttling, and app-level webhooks that
 * batch several entities and several realms per delivery, signed with `intuit-signature`.
 * See /work/shared/research/quickbooks-api.md and fakes/README.md.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { Router } from '@koa/router';
import { FaultController, RateLimiter, controlMiddleware, createRequestLog, type Faults, type RateLimit, type RequestLog } from './faults.ts';
import { isPlainObject, listen, quietApp, readRawBody } from './http.ts';
import { startFakeOAuth, type FakeOAuth, type OAuthGrant, type TokenResponse } from './oauth.ts';
import { QBO_DEFAULT_COUNTS, QboFactory, cents, qboTime, recomputeTotals, type CompanySeed, type QboCompany, type QboCounts, type QboCreditMemo, type QboCustomer, type QboEntityName, type QboInvoice, type QboItem, type QboRecord, type QboTxnTaxDetail, type Table } from './quickbooks-data.ts';
import { QboFault, authFault, faultBody, forbidden, missing, notFound, throttled, validation } from './quickbooks-faults.ts';
import { QueryError, compileQuery, parseQuery, parseQueryTime } from './quickbooks-query.ts';
import { KINDS, createWriter, kindByName, kindByPath, type Kind, type QboOperation } from './quickbooks-writes.ts';
import { Deliverer, postRaw, tamperBody, type DeliveryOptions, type DeliveryRecord } from './webhooks.ts';

export * from './quickbooks-data.ts';
export { parseQuery, QueryError } from './quickbooks-query.ts';
export { QboFault } from './quickbooks-faults.ts';
export type { QboOperation } from './quickbooks-writes.ts';

export const QBO_MINOR_VERSION = '75';
export const QBO_ACCOUNTING_SCOPE = 'com.intuit.quickbooks.accounting';
/** Intuit's OAuth paths (appcenter.intuit.com/connect/oauth2, oauth.platform.intuit.com/..., developer.api.intuit.com/...). */
export const INTUIT_OAUTH_PATHS = { authorize: '/connect/oauth2', token: '/oauth2/v1/tokens/bearer', revoke: '/v2/oauth2/tokens/revoke' };
const INTUIT_SCOPES = [QBO_ACCOUNTING_SCOPE, 'com.intuit.quickbooks.payment', 'openid', 'profile', 'email', 'phone', 'address'];

export interface QboWebhookEntity {
  name: string;
  id: string;
  operation: QboOperation | string;
  /** ISO-8601 UTC (default now). */
  lastUpdated?: string;
}

export interface QboNotification {
  realmId: string;
  entities: QboWebhookEntity[];
}

export interface QboWebhookConfig {
  /** The app's one webhook endpoint (every company's events go there). Unset: nothing is sent. */
  url?: string;
  /** The verifier token (the HMAC key of `intuit-signature`). */
  verifierToken?: string;
  /** 'legacy' (eventNotifications) or 'cloudevents' (a JSON array of CloudEvents). Default legacy. */
  format?: 'legacy' | 'cloudevents';
  /** Entities the app subscribed to (default Customer, Item, Invoice, CreditMemo). */
  entities?: string[];
  /** Only realms with a live OAuth grant send events, as at Intuit (default false: every realm of the fake). */
  onlyConnectedRealms?: boolean;
  /** Hold changes until `flushWebhooks()` (default false: flushed right after the current tick, so changes made together share a delivery). */
  hold?: boolean;
  /** Entities per delivery before a new one starts (default 100). */
  maxEntitiesPerDelivery?: number;
}

export interface FakeQuickBooksOptions {
  port?: number;
  seed?: number;
  /** Companies: a number of generated ones (default 2) or seeds with fixed realm ids. */
  companies?: number | CompanySeed[];
  /** Record counts of each generated company. */
  counts?: Partial<QboCounts>;
  /** Use this OAuth server (its default consent is replaced) instead of starting one. */
  oauth?: FakeOAuth;
  clientId?: string;
  clientSecret?: string;
  redirectUris?: string[];
  /** A consent page with Allow / Deny for a browser (see FakeOAuthOptions.consentPage). */
  consentPage?: boolean;
  accessTokenTtlSeconds?: number;
  /** Seconds a rotated-out refresh token keeps working (Intuit: 86400; default 0). */
  refreshTokenGraceSeconds?: number;
  /** Answer 400 when `minorversion` is missing (default true; Intuit serves 75 then). */
  requireMinorVersion?: boolean;
  /** Throttle per realm (Intuit: 500 per minute); 429 past it. */
  realmRateLimit?: RateLimit;
  /** A global limit in front of everything (with Retry-After), like the other fakes. */
  rateLimit?: RateLimit;
  latencyMs?: number;
  webhook?: QboWebhookConfig;
  webhookDelivery?: DeliveryOptions;
  /** Writes through the HTTP API send webhooks too, as at Intuit (default true). */
  emitOnApiWrites?: boolean;
  requestLogLimit?: number;
}

export interface QboSendOptions {
  format?: 'legacy' | 'cloudevents';
  /** Sign with this verifier token (default: the configured one). */
  verifierToken?: string;
  /** Change the body after signing. */
  tamper?: boolean;
  /** Send this `intuit-signature` instead of the computed one. */
  signature?: string;
}

export interface QboSendResult {
  status: number;
  body: string;
  sent: { body: string; headers: Record<string, string> };
}

export type LineSpec = { itemId: string; qty?: number; unitPrice?: number; description?: string; taxable?: boolean };

export interface FakeQuickBooks {
  /** API origin, e.g. http://127.0.0.1:PORT (base URL of a company: `${url}/v3/company/${realmId}`). */
  url: string;
  port: number;
  baseUrl(realmId: string): string;
  minorVersion: string;
  realmIds: string[];
  companies: Map<string, QboCompany>;
  oauth: FakeOAuth;
  clientId: string;
  clientSecret: string;
  scope: string;
  addRedirectUri(uri: string): void;
  /** The company the next consent picks (then the default again: the first company). */
  chooseCompanyNext(realmId: string): void;
  denyNextConsent(): void;
  /** Consent without a browser: tokens for a realm. */
  connect(realmId: string): TokenResponse;
  /** The user disconnects the app from a company: its refresh tokens get invalid_grant. */
  revokeConsent(realmId: string): number;
  connectedRealms(): string[];

  requests: RequestLog;
  faults: Faults;
  setRateLimit(rl: RateLimit | undefined): void;
  setRealmRateLimit(rl: RateLimit | undefined): void;
  setLatency(ms: number): void;

  webhook: QboWebhookConfig & { verifierToken: string };
  setWebhook(cfg: QboWebhookConfig): void;
  /** Send what has been held (or not yet flushed) now. */
  flushWebhooks(): void;
  pendingWebhookEntities(): number;
  deliveries: DeliveryRecord[];
  deliveriesIdle(): Promise<void>;
  /** Build, sign and POST one delivery now (any realms, any entities, even unknown ones). */
  sendWebhook(url: string, notifications: QboNotification[], opts?: QboSendOptions): Promise<QboSendResult>;

  get<K extends QboEntityName>(realmId: string, entity: K, id: string): EntityOf<K> | undefined;
  createCustomer(realmId: string, partial?: Partial<QboCustomer>): QboCustomer;
  updateCustomer(realmId: string, id: string, patch: Record<string, unknown>): QboCustomer;
  createItem(realmId: string, partial?: Partial<QboItem>): QboItem;
  createInvoice(realmId: string, p?: { customerId?: string; lines?: LineSpec[]; txnTaxDetail?: Partial<QboTxnTaxDetail> } & Partial<QboInvoice>): QboInvoice;
  /** A sparse update as someone in QuickBooks would make it (bumps SyncToken, sends the webhook). */
  updateInvoice(realmId: string, id: string, patch: Record<string, unknown>): QboInvoice;
  deleteInvoice(realmId: string, id: string): QboInvoice;
  voidInvoice(realmId: string, id: string): QboInvoice;
  recordPayment(realmId: string, invoiceId: string, amount?: number): QboInvoice;
  createCreditMemo(realmId: string, p?: { customerId?: string; lines?: LineSpec[] } & Partial<QboCreditMemo>): QboCreditMemo;
  updateCreditMemo(realmId: string, id: string, patch: Record<string, unknown>): QboCreditMemo;
  close(): Promise<void>;
}

type EntityOf<K extends QboEntityName> = K extends 'Customer' ? QboCustomer : K extends 'Item' ? QboItem : K extends 'Invoice' ? QboInvoice : K extends 'CreditMemo' ? QboCreditMemo : QboRecord;

/** `intuit-signature`: base64(HMAC-SHA256(key = verifier token (utf8), message = raw body)). */
export function intuitSignature(verifierToken: string, rawBody: string): string {
  return createHmac('sha256', Buffer.from(verifierToken, 'utf8')).update(rawBody, 'utf8').digest('base64');
}

// ------------------------------------------------------------------------------------------------

const CDC_LOOKBACK_MS = 30 * 86_400_000;
const CDC_MAX_OBJECTS = 1000;
const DEFAULT_REALMS = ['9341453172473016', '9341453172473017', '9341453172473018'];

export async function startFakeQuickBooks(opts: FakeQuickBooksOptions = {}): Promise<FakeQuickBooks> {
  const seed = opts.seed ?? 1;
  const seeds: CompanySeed[] = Array.isArray(opts.companies)
    ? opts.companies
    : Array.from({ length: opts.companies ?? 2 }, (_, i) => ({ realmId: DEFAULT_REALMS[i] ?? String(9341453172473016 + i) }));
  if (seeds.length === 0) throw new Error('startFakeQuickBooks: at least one company is needed');
  const companies = new Map<string, QboCompany>();
  const factories = new Map<string, QboFactory>();
  seeds.forEach((s, i) => {
    if (!/^\d{1,19}$/.test(s.realmId)) throw new Error(`startFakeQuickBooks: realmId must be digits, got ${s.realmId}`);
    const f = new QboFactory(seed * 1000 + i, s);
    f.generate({ ...QBO_DEFAULT_COUNTS, ...opts.counts, ...s.counts });
    companies.set(s.realmId, f.company);
    factories.set(s.realmId, f);
  });
  const realmIds = [...companies.keys()];

  const clientId = opts.clientId ?? 'qbo_client';
  const clientSecret = opts.clientSecret ?? 'qbo_secret';
  const ownOAuth = opts.oauth === undefined;
  const oauth = opts.oauth ?? await startFakeOAuth({
    paths: INTUIT_OAUTH_PATHS,
    consentPage: opts.consentPage ?? false,
    clients: [{ clientId, clientSecret, redirectUris: opts.redirectUris ?? ['http://127.0.0.1/oauth/callback'] }],
    scopes: INTUIT_SCOPES,
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds ?? 3600,
    refreshTokenTtlSeconds: 8_726_400,
    refreshTokenGraceSeconds: opts.refreshTokenGraceSeconds ?? 0,
    tokenType: 'bearer',
    refreshExpiresInField: 'x_refresh_token_expires_in',
    includeScope: false,
    revokeBody: 'json',
    revokeGrantOnAccessToken: true,
    tokenPrefix: { access: 'eyJ', refresh: 'AB11', code: 'AB11' },
  });
  const nextRealms: string[] = [];
  oauth.setDefaultConsent(() => {
    const realmId = nextRealms.shift() ?? realmIds[0]!;
    return { approve: true, redirectParams: { realmId }, context: { realmId } };
  });

  const requests = createRequestLog();
  const faults = new FaultController();
  const limiter = new RateLimiter(opts.rateLimit);
  let realmLimit = opts.realmRateLimit;
  const realmLimiters = new Map<string, RateLimiter>();
  let latency = opts.latencyMs ?? 0;
  const requireMinor = opts.requireMinorVersion !== false;
  const emitOnApi = opts.emitOnApiWrites !== false;
  const deliverer = new Deliverer(opts.webhookDelivery);
  const appSource = `intuit.${randomBytes(24).toString('base64')}`;

  const mustCompany = (realmId: string): QboCompany => {
    const c = companies.get(realmId);
    if (!c) throw new Error(`no company with realmId ${realmId} (have ${realmIds.join(', ')})`);
    return c;
  };
  const nowTime = (c: QboCompany): string => qboTime(Date.now(), c.utcOffset);

  // ---- webhooks: app-level, batched ----
  interface Pending { realmId: string; name: string; id: string; operation: string; lastUpdated: string }
  let pending: Pending[] = [];
  let flushScheduled = false;

  function connectedRealms(): string[] {
    const live = new Set<string>();
    for (const g of oauth.grants()) if (g.revokedAt === undefined && g.context.realmId !== undefined) live.add(g.context.realmId);
    return [...live];
  }

  function bodyFor(format: 'legacy' | 'cloudevents', notes: QboNotification[]): string {
    if (format === 'cloudevents') {
      const past: Record<string, string> = { Create: 'created', Update: 'updated', Delete: 'deleted', Merge: 'merged', Void: 'voided', Emailed: 'emailed' };
      return JSON.stringify(notes.flatMap((n) => n.entities.map((e) => ({
        specversion: '1.0', id: randomUUID(), source: appSource, type: `qbo.${e.name.toLowerCase()}.${past[e.operation] ?? e.operation.toLowerCase()}.v1`,
        datacontenttype: 'application/json', time: e.lastUpdated ?? new Date().toISOString(), intuitentityid: e.id, intuitaccountid: n.realmId, data: {},
      }))));
    }
    return JSON.stringify({
      eventNotifications: notes.map((n) => ({
        realmId: n.realmId,
        dataChangeEvent: { entities: n.entities.map((e) => ({ name: e.name, id: e.id, operation: e.operation, lastUpdated: e.lastUpdated ?? new Date().toISOString() })) },
      })),
    });
  }

  /** Group changes by realm (in order of first appearance) into one notification each. */
  function group(items: Pending[]): QboNotification[] {
    const by = new Map<string, QboNotification>();
    for (const p of items) {
      let n = by.get(p.realmId);
      if (!n) {
        n = { realmId: p.realmId, entities: [] };
        by.set(p.realmId, n);
      }
      n.entities.push({ name: p.name, id: p.id, operation: p.operation, lastUpdated: p.lastUpdated });
    }
    return [...by.values()];
  }

  function flush(): void {
    flushScheduled = false;
    const cfg = self.webhook;
    const items = pending;
    pending = [];
    if (!cfg.url || items.length === 0) return;
    const live = cfg.onlyConnectedRealms ? new Set(connectedRealms()) : undefined;
    const keep = items.filter((p) => (live === undefined || live.has(p.realmId)) && (cfg.entities ?? ['Customer', 'Item', 'Invoice', 'CreditMemo']).includes(p.name));
    const max = Math.max(1, cfg.maxEntitiesPerDelivery ?? 100);
    for (let i = 0; i < keep.length; i += max) {
      const body = bodyFor(cfg.format ?? 'legacy', group(keep.slice(i, i + max)));
      deliverer.enqueue('app', cfg.url, 'dataChange', undefined, body, { 'intuit-signature': intuitSignature(cfg.verifierToken, body) });
    }
  }

  function emit(c: QboCompany, name: string, id: string, operation: QboOperation): void {
    pending.push({ realmId: c.realmId, name, id, operation, lastUpdated: new Date().toISOString() });
    if (!self.webhook.hold && !flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  const { create, update, remove, touch } = createWriter(factories, emit);

  // ---- queries ----
  const viewCache = new Map<string, { version: number; rows: QboRecord[] }>();

  function runQuery(c: QboCompany, text: string): unknown {
    const q = parseQuery(text);
    const kind = kindByName(q.entity);
    if (!kind) throw new QueryError('4001', `QueryValidationError: ${q.entity} is not an entity this fake knows (${KINDS.map((k) => k.name).join(', ')})`);
    const compiled = compileQuery<QboRecord>(q, kind.fields, c.utcOffset);
    const table = kind.table(c);
    const sig = `${c.realmId}|${kind.name}|${text}`;
    let cached = viewCache.get(sig);
    if (!cached || cached.version !== table.version) {
      const rows = [...table.values()].filter((r) => (!kind.isName || compiled.mentionsActive || (r as { Active?: boolean }).Active !== false) && compiled.keep(r));
      rows.sort(compiled.compare);
      cached = { version: table.version, rows };
      if (viewCache.size > 200) viewCache.clear();
      viewCache.set(sig, cached);
    }
    const time = nowTime(c);
    if (q.count) return { QueryResponse: { totalCount: cached.rows.length }, time };
    const page = cached.rows.slice(q.start - 1, q.start - 1 + q.max);
    if (page.length === 0) return { QueryResponse: {}, time };
    return { QueryResponse: { [kind.name]: page, startPosition: q.start, maxResults: page.length }, time };
  }

  // ---- HTTP ----
  const app = quietApp();
  app.use(controlMiddleware({
    log: requests,
    logLimit: opts.requestLogLimit ?? 10_000,
    faults,
    limiter,
    latency: () => latency,
    errorBody: (status, message) => status === 429
      ? faultBody(throttled())
      : faultBody(new QboFault(status, status >= 500 ? 'SystemFault' : 'ValidationFault', [{ Message: status >= 500 ? 'An application error has occurred while processing your request' : 'Request failed', Detail: message, code: status >= 500 ? '10000' : String(status) }])),
    commonHeaders: () => ({ intuit_tid: `1-${randomBytes(8).toString('hex')}` }),
  }));
  app.use(async (ctx, next) => {
    try {
      await next();
      if ((ctx.body === undefined || ctx.body === null) && (ctx.status === 404 || ctx.status === 405)) {
        const status = ctx.status;
        ctx.status = status;
        ctx.body = faultBody(new QboFault(status, 'ValidationFault', [{ Message: status === 404 ? 'Unsupported Operation' : 'Method not allowed', Detail: `${ctx.method} ${ctx.path} is not a route of this fake`, code: status === 404 ? '500' : '405' }]));
      }
    } catch (e) {
      let f: QboFault;
      if (e instanceof QboFault) f = e;
      else if (e instanceof QueryError) f = validation(e.code, e.code === '4000' ? 'Error parsing query' : 'Invalid query', e.message);
      else if (e instanceof Error && typeof (e as unknown as { status?: unknown }).status === 'number' && (e as unknown as { status: number }).status < 500) f = validation('2010', 'Request has invalid or unsupported property', e.message);
      else f = new QboFault(500, 'SystemFault', [{ Message: 'An application error has occurred while processing your request', Detail: 'internal error in the fake', code: '10000' }]);
      ctx.status = f.status;
      if (f.headers) ctx.set(f.headers);
      ctx.body = faultBody(f);
    }
  });

  // auth, realm scope, minorversion, per-realm throttle for every /v3/company/:realmId/... call
  app.use(async (ctx, next) => {
    const m = /^\/v3\/company\/([^/]+)(?:\/|$)/.exec(ctx.path);
    if (!m) return next();
    let realmId: string;
    try {
      realmId = decodeURIComponent(m[1]!);
    } catch {
      throw forbidden(`malformed company id in the path: ${m[1]!.slice(0, 40)}`);
    }
    const auth = ctx.get('authorization');
    const bearer = /^bearer\s+(\S+)$/i.exec(auth);
    if (!bearer) throw authFault(auth === '' ? 'Authorization header is missing: send "Authorization: Bearer <access token>"' : 'Malformed bearer token');
    const check = oauth.checkAccessToken(bearer[1]);
    if (!check.ok) {
      const t = bearer[1]!.slice(0, 12);
      throw authFault(check.reason === 'expired' ? `Token expired: ${t}...` : check.reason === 'revoked' ? `Token revoked: ${t}...` : `Token invalid: ${t}...`);
    }
    const grant: OAuthGrant = check.grant;
    if (!grant.scope.includes(QBO_ACCOUNTING_SCOPE)) throw forbidden(`the token was not granted ${QBO_ACCOUNTING_SCOPE}`);
    if (grant.context.realmId !== realmId) throw forbidden(`the token was issued for company ${grant.context.realmId ?? '(none)'}, not ${realmId}`);
    const c = companies.get(realmId);
    if (!c) throw forbidden(`no company ${realmId}`);
    const accept = ctx.get('accept');
    if (accept !== '' && !/json|\*\/\*/i.test(accept)) {
      throw new QboFault(406, 'ValidationFault', [{ Message: 'Not Acceptable', Detail: `this fake answers application/json only (Intuit answers XML unless Accept: application/json); got Accept: ${accept}`, code: '406' }]);
    }
    const mv = typeof ctx.query.minorversion === 'string' ? ctx.query.minorversion : undefined;
    if (mv === undefined) {
      if (requireMinor) throw validation('2010', 'Request has invalid or unsupported property', `minorversion is required by this fake: add ?minorversion=${QBO_MINOR_VERSION} to every call (Intuit serves ${QBO_MINOR_VERSION} when it is missing)`, 'minorversion');
    } else if (!/^\d{1,3}$/.test(mv)) {
      throw validation('2010', 'Request has invalid or unsupported property', `minorversion must be a number such as ${QBO_MINOR_VERSION}, got ${JSON.stringify(mv.slice(0, 20))}`, 'minorversion');
    }
    ctx.set('x-fake-minorversion', mv === undefined || Number(mv) < Number(QBO_MINOR_VERSION) ? QBO_MINOR_VERSION : mv);
    if (realmLimit) {
      let rl = realmLimiters.get(realmId);
      if (!rl) {
        rl = new RateLimiter(realmLimit);
        realmLimiters.set(realmId, rl);
      }
      if (rl.check(Date.now()) > 0) throw throttled();
    }
    ctx.state.company = c;
    await next();
  });

  const router = new Router();
  const company = (ctx: Koa.Context): QboCompany => ctx.state.company as QboCompany;

  router.get('/v3/company/:realmId/query', (ctx) => {
    const q = ctx.query.query;
    if (typeof q !== 'string' || q.trim() === '') throw missing('query', 'query (a select statement)');
    ctx.body = runQuery(company(ctx), q);
  });
  router.post('/v3/company/:realmId/query', async (ctx) => {
    const text = await readRawBody(ctx);
    if (text.trim() === '') throw missing('query', 'query (the select statement as the body, Content-Type: application/text)');
    ctx.body = runQuery(company(ctx), text);
  });
  router.get('/v3/company/:realmId/companyinfo/:id', (ctx) => {
    const c = company(ctx);
    if (ctx.params.id !== c.realmId) throw notFound('CompanyInfo', ctx.params.id!);
    ctx.body = {
      CompanyInfo: {
        Id: '1', SyncToken: '0', domain: 'QBO', CompanyName: c.name, LegalName: c.name, CompanyAddr: c.address, Country: 'US',
        SupportedLanguages: 'en', DefaultTimeZone: 'America/Los_Angeles', MetaData: { CreateTime: qboTime(Date.UTC(2025, 0, 1), c.utcOffset), LastUpdatedTime: qboTime(Date.UTC(2025, 0, 1), c.utcOffset) },
      },
      time: nowTime(c),
    };
  });
  // change data capture: what changed since a time (at most 30 days back, 1000 objects per answer), deletions included
  router.get('/v3/company/:realmId/cdc', (ctx) => {
    const c = company(ctx);
    const names = typeof ctx.query.entities === 'string' ? ctx.query.entities.split(',').map((e) => e.trim()).filter((e) => e !== '') : [];
    if (names.length === 0) throw missing('entities', 'entities (a comma-separated list such as Invoice,Customer)');
    const kinds = names.map((n) => {
      const k = kindByName(n);
      if (!k) throw validation('2010', 'Request has invalid or unsupported property', `entities: ${JSON.stringify(n.slice(0, 40))} is not an entity this fake knows`, 'entities');
      return k;
    });
    const raw = typeof ctx.query.changedSince === 'string' ? ctx.query.changedSince : undefined;
    if (raw === undefined) throw missing('changedSince', 'changedSince (an ISO-8601 date-time)');
    let since: number;
    try {
      since = parseQueryTime(raw, c.utcOffset);
    } catch {
      throw validation('2010', 'Request has invalid or unsupported property', `changedSince must be an ISO-8601 date-time such as 2026-01-01T00:00:00-08:00, got ${JSON.stringify(raw.slice(0, 40))}`, 'changedSince');
    }
    if (Date.now() - since > CDC_LOOKBACK_MS) throw validation('2010', 'Request has invalid or unsupported property', 'changedSince may be at most 30 days in the past; read older changes with a query', 'changedSince');
    let budget = CDC_MAX_OBJECTS;
    const parts = kinds.map((k) => {
      const changed: { at: number; row: unknown }[] = [];
      for (const r of k.table(c).values()) {
        const at = parseQueryTime(r.MetaData.LastUpdatedTime, c.utcOffset);
        if (at >= since) changed.push({ at, row: r });
      }
      for (const d of c.deleted.values()) {
        if (d.entity === k.name && d.at >= since) changed.push({ at: d.at, row: { domain: 'QBO', status: 'Deleted', Id: d.id, MetaData: { LastUpdatedTime: d.time } } });
      }
      changed.sort((x, y) => x.at - y.at);
      const rows = changed.slice(0, Math.max(0, budget)).map((x) => x.row);
      budget -= rows.length;
      return rows.length === 0 ? {} : { [k.name]: rows, startPosition: 1, maxResults: rows.length };
    });
    ctx.body = { CDCResponse: [{ QueryResponse: parts }], time: nowTime(c) };
  });
  router.get('/v3/company/:realmId/preferences', (ctx) => {
    const c = company(ctx);
    ctx.body = { Preferences: { TaxPrefs: { UsingSalesTax: true, PartnerTaxEnabled: c.autoTax }, CurrencyPrefs: { HomeCurrency: { value: 'USD' }, MultiCurrencyEnabled: false } }, time: nowTime(c) };
  });
  router.get('/v3/company/:realmId/:entity/:id', (ctx) => {
    const c = company(ctx);
    const kind = kindByPath(ctx.params.entity!);
    if (!kind) throw new QboFault(404, 'ValidationFault', [{ Message: 'Unsupported Operation', Detail: `${ctx.params.entity} is not an entity this fake serves`, code: '500' }]);
    const rec = kind.table(c).get(ctx.params.id!);
    if (!rec) throw notFound(kind.name, ctx.params.id!);
    ctx.body = { [kind.name]: rec, time: nowTime(c) };
  });
  router.post('/v3/company/:realmId/:entity', async (ctx) => {
    const c = company(ctx);
    const kind = kindByPath(ctx.params.entity!);
    if (!kind || !kind.writable) throw new QboFault(404, 'ValidationFault', [{ Message: 'Unsupported Operation', Detail: `POST /${ctx.params.entity} is not supported by this fake`, code: '500' }]);
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (type !== 'application/json') throw validation('2010', 'Request has invalid or unsupported property', `send Content-Type: application/json (got ${type || 'none'})`);
    const raw = await readRawBody(ctx);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (e) {
      throw validation('2010', 'Request has invalid or unsupported property', `request body is not valid JSON: ${(e as Error).message}`);
    }
    if (!isPlainObject(body)) throw validation('2010', 'Request has invalid or unsupported property', `the body must be one ${kind.name} object`);
    const op = typeof ctx.query.operation === 'string' ? ctx.query.operation.toLowerCase() : undefined;
    let result: unknown;
    if (op === 'delete' || op === 'void') result = remove(c, kind, body, op, emitOnApi);
    else if (op !== undefined && op !== 'update' && op !== 'create') throw validation('2010', 'Request has invalid or unsupported property', `operation must be update, delete or void, got ${JSON.stringify(op)}`, 'operation');
    else if (body.Id !== undefined) result = update(c, kind, body, emitOnApi);
    else result = create(c, kind, body, emitOnApi);
    ctx.body = { [kind.name]: result, time: nowTime(c) };
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  const l = await listen(app, opts.port ?? 0);

  const kindOf = (name: QboEntityName): Kind => kindByName(name)!;
  const specsToLines = (c: QboCompany, lines: LineSpec[]): unknown[] => lines.map((s) => {
    const item = c.items.get(s.itemId);
    if (!item) throw new Error(`no item ${s.itemId} in company ${c.realmId}`);
    return {
      DetailType: 'SalesItemLineDetail', ...(s.description !== undefined ? { Description: s.description } : {}),
      SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: s.qty ?? 1, UnitPrice: s.unitPrice ?? item.UnitPrice, ...(s.taxable !== undefined ? { TaxCodeRef: { value: s.taxable ? 'TAX' : 'NON' } } : {}) },
    };
  });
  const firstActive = <V extends { Active: boolean }>(t: Table<V>): V | undefined => [...t.values()].find((v) => v.Active);

  const self: FakeQuickBooks = {
    url: l.origin,
    port: l.port,
    baseUrl: (realmId) => `${l.origin}/v3/company/${realmId}`,
    minorVersion: QBO_MINOR_VERSION,
    realmIds,
    companies,
    oauth,
    clientId,
    clientSecret,
    scope: QBO_ACCOUNTING_SCOPE,
    addRedirectUri(uri) {
      const client = oauth.clients.find((c) => c.clientId === clientId);
      if (!client) throw new Error(`the OAuth server has no client ${clientId}`);
      if (!client.redirectUris.includes(uri)) client.redirectUris.push(uri);
    },
    chooseCompanyNext(realmId) {
      mustCompany(realmId);
      nextRealms.push(realmId);
    },
    denyNextConsent() {
      oauth.denyNext('access_denied', 'The user did not authorize the app');
    },
    connect(realmId) {
      mustCompany(realmId);
      return oauth.issueTokens(clientId, { scope: [QBO_ACCOUNTING_SCOPE], context: { realmId } }).tokens;
    },
    revokeConsent: (realmId) => oauth.revokeConsent({ realmId }, 'the user disconnected the app from this company'),
    connectedRealms,

    requests,
    faults,
    setRateLimit: (rl) => limiter.set(rl),
    setRealmRateLimit(rl) {
      realmLimit = rl;
      realmLimiters.clear();
    },
    setLatency: (ms) => {
      latency = ms;
    },

    webhook: { ...opts.webhook, verifierToken: opts.webhook?.verifierToken ?? randomUUID() },
    setWebhook(cfg) {
      self.webhook = { ...self.webhook, ...cfg, verifierToken: cfg.verifierToken ?? self.webhook.verifierToken };
    },
    flushWebhooks: () => flush(),
    pendingWebhookEntities: () => pending.length,
    deliveries: deliverer.log,
    deliveriesIdle: () => deliverer.idle(),
    async sendWebhook(url, notifications, o = {}) {
      const body = bodyFor(o.format ?? self.webhook.format ?? 'legacy', notifications);
      const headers = { 'intuit-signature': o.signature ?? intuitSignature(o.verifierToken ?? self.webhook.verifierToken, body) };
      const sentBody = o.tamper ? tamperBody(body) : body;
      const res = await postRaw(url, sentBody, headers);
      return { ...res, sent: { body: sentBody, headers } };
    },

    get(realmId, entity, id) {
      return kindOf(entity).table(mustCompany(realmId)).get(id) as never;
    },
    createCustomer(realmId, partial = {}) {
      const c = mustCompany(realmId);
      const cust = factories.get(realmId)!.makeCustomer(Date.now(), partial);
      cust.MetaData = { CreateTime: nowTime(c), LastUpdatedTime: nowTime(c) };
      emit(c, 'Customer', cust.Id, 'Create');
      return cust;
    },
    updateCustomer(realmId, id, patch) {
      const c = mustCompany(realmId);
      const rec = c.customers.get(id);
      if (!rec) throw new Error(`no customer ${id} in ${realmId}`);
      return update(c, kindOf('Customer'), { ...patch, Id: id, SyncToken: rec.SyncToken, sparse: true }, true) as QboCustomer;
    },
    createItem(realmId, partial = {}) {
      const c = mustCompany(realmId);
      const item = factories.get(realmId)!.makeItem(Date.now(), c.items.size, partial);
      item.MetaData = { CreateTime: nowTime(c), LastUpdatedTime: nowTime(c) };
      emit(c, 'Item', item.Id, 'Create');
      return item;
    },
    createInvoice(realmId, p = {}) {
      const c = mustCompany(realmId);
      const { customerId, lines, txnTaxDetail, ...rest } = p;
      const customer = customerId !== undefined ? c.customers.get(customerId) : firstActive(c.customers);
      if (!customer) throw new Error(`no customer ${customerId ?? '(any)'} in ${realmId}`);
      const item = firstActive(c.items);
      if (!item) throw new Error(`no item in ${realmId}`);
      const body: Record<string, unknown> = { ...rest, CustomerRef: { value: customer.Id }, Line: specsToLines(c, lines ?? [{ itemId: item.Id, qty: 2 }]) };
      if (txnTaxDetail !== undefined) body.TxnTaxDetail = txnTaxDetail;
      return create(c, kindOf('Invoice'), body, true) as QboInvoice;
    },
    updateInvoice(realmId, id, patch) {
      const c = mustCompany(realmId);
      const rec = c.invoices.get(id);
      if (!rec) throw new Error(`no invoice ${id} in ${realmId}`);
      return update(c, kindOf('Invoice'), { ...patch, Id: id, SyncToken: rec.SyncToken, sparse: true }, true) as QboInvoice;
    },
    deleteInvoice(realmId, id) {
      const c = mustCompany(realmId);
      const rec = c.invoices.get(id);
      if (!rec) throw new Error(`no invoice ${id} in ${realmId}`);
      remove(c, kindOf('Invoice'), { Id: id, SyncToken: rec.SyncToken }, 'delete', true);
      return rec;
    },
    voidInvoice(realmId, id) {
      const c = mustCompany(realmId);
      const rec = c.invoices.get(id);
      if (!rec) throw new Error(`no invoice ${id} in ${realmId}`);
      return remove(c, kindOf('Invoice'), { Id: id, SyncToken: rec.SyncToken }, 'void', true) as QboInvoice;
    },
    recordPayment(realmId, invoiceId, amount) {
      const c = mustCompany(realmId);
      const inv = c.invoices.get(invoiceId);
      if (!inv) throw new Error(`no invoice ${invoiceId} in ${realmId}`);
      const pay = amount === undefined ? cents(inv.Balance) : cents(amount);
      c.paid.set(invoiceId, (c.paid.get(invoiceId) ?? 0n) + pay);
      recomputeTotals(c, inv, 'Invoice');
      touch(c, kindOf('Invoice'), inv);
      emit(c, 'Invoice', inv.Id, 'Update');
      return inv;
    },
    createCreditMemo(realmId, p = {}) {
      const c = mustCompany(realmId);
      const { customerId, lines, ...rest } = p;
      const customer = customerId !== undefined ? c.customers.get(customerId) : firstActive(c.customers);
      if (!customer) throw new Error(`no customer ${customerId ?? '(any)'} in ${realmId}`);
      const item = firstActive(c.items);
      if (!item) throw new Error(`no item in ${realmId}`);
      return create(c, kindOf('CreditMemo'), { ...rest, CustomerRef: { value: customer.Id }, Line: specsToLines(c, lines ?? [{ itemId: item.Id, qty: 1 }]) }, true) as QboCreditMemo;
    },
    updateCreditMemo(realmId, id, patch) {
      const c = mustCompany(realmId);
      const rec = c.creditMemos.get(id);
      if (!rec) throw new Error(`no credit memo ${id} in ${realmId}`);
      return update(c, kindOf('CreditMemo'), { ...patch, Id: id, SyncToken: rec.SyncToken, sparse: true }, true) as QboCreditMemo;
    },
    async close() {
      deliverer.stop();
      await l.close();
      if (ownOAuth) await oauth.close();
    },
  };
  return self;
}
