/**
 * The webhook receiver, its admin routes and the write-back trigger as koa routers (composed by `taxbridge
 * serve`):
 *
 *   POST /webhooks/:token                                  a system's webhook delivery (one connection's URL)
 *   POST /webhooks/connectors/:connector                   one URL for every connection (`webhooks.url: per_connector`),
 *                                                          verified with the app secret, each event routed by tenant
 *     200 {received, id, duplicate, events, unrouted}   every event stored in the inbox (on disk) before the answer;
 *         events that name no active connection's tenant are recorded as unrouted; a duplicate is answered
 *         only once the original is on disk (it waits for a write in flight; stores itself if that one failed)
 *     401 bad, missing or malformed signature or credentials, stale timestamp  400 malformed body  404 unknown token
 *     413 body over webhooks.max_body_bytes (default 1 MiB), or more events than webhooks.max_events (default 1000)
 *     503 store cannot write (Retry-After: 5; nothing of the delivery is kept) / no secret configured
 *     errors: {"error":{"code","message"}}, never a stack
 *
 *   (Authorization: Bearer <admin token>; answers {"data": ...}; errors {"type":"api_error","code","message"})
 *   (query strings checked by schemas/admin-api/webhooks.schema.json, the *_query definitions: 400 naming the parameter)
 *   GET  /admin/events?connection=&status=&type=&limit=        inbox events with their outcomes (no bodies)
 *   GET  /admin/events/:id                                     one event, with its stored headers and body
 *   GET  /admin/webhooks/unrouted?connector=                   events no connection's tenant matched (count, recent)
 *   POST /admin/events/:id/replay                              process again
 *   GET  /admin/writebacks?connection=&status=&dead=true&limit= write-back jobs
 *   GET  /admin/writebacks/:id                                 one job with its tax
 *   POST /admin/writebacks/:id/replay                          run again (dead letters)
 *
 *   POST /tax_api/v1/:connector/calculate_invoice_tax {"external_id"}   X-API-KEY (the tax API's keys)
 *     200 {external_id, status: applied|unchanged|no_tax|voided, reason, calculation_id} (voided: the invoice is
 *         void upstream and the tax written onto it before no longer counts)
 *     202 {..., status: "pending", job_id}  the system is failing; the job retries in the background
 *     404 not_found (no such connection or invoice)  502 writeback_failed (dead job, with the reason)
 *
 * Mount these routers BEFORE the tax API and admin API routers: those answer 404 for any path under their
 * prefixes that they do not know.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { errorMessage, isCode, isTaxbridgeError, publicCode } from '../errors.ts';
import type { Store } from '../store/types.ts';
import type { TaxService } from '../tax/service.ts';
import { TaxApiError } from '../tax/errors.ts';
import type { ResolvedConnection } from '../webhooks/connections.ts';
import { WebhookSignatureError } from '../webhooks/errors.ts';
import type { EventService } from '../webhooks/event-service.ts';
import { eventSummary, getEvent, listEvents } from '../webhooks/inbox.ts';
import { silentLog, type LogFn } from '../webhooks/log.ts';
import { acceptConnectorDelivery, acceptDelivery, compiledWebhooks, flatHeaders, STORE_RETRY_AFTER_S, type AcceptedDelivery, type IncomingDelivery } from '../webhooks/receive.ts';
import { unroutedSummary } from '../webhooks/unrouted.ts';
import type { RefusedDeliveries, RefusedScope } from '../webhooks/refused.ts';
import { compileExpression, type Expression } from '../expressions/index.ts';
import type { WebhooksSpec } from '../spec/types.ts';
import type { RecordSync } from '../webhooks/record-sync.ts';
import { WebhookRequestError } from '../webhooks/request-errors.ts';
import { writebackKindOf } from '../writeback/evaluate.ts';
import { getJob, jobSummary, listJobs, type JobStatus } from '../writeback/jobs.ts';
import type { WritebackService } from '../writeback/service.ts';
import { triggerRefusal } from '../writeback/triggers.ts';
import type { AdminCredential } from './admin-bearer.ts';
import type { WebhooksEventsQuery, WebhooksInvoiceTaxRequest, WebhooksRefusedQuery, WebhooksUnroutedQuery, WebhooksWritebacksQuery } from './admin-api-types.generated.ts';
import { adminQuery } from './admin-body.ts';
import { BodyError, readJsonBody, readRawBody } from './raw-body.ts';
import { checkSchema } from '../tax/schema-errors.ts';
import { wireValidator } from '../wire-schemas.ts';
import { createAdminRouter, createRouter } from './routing.ts';
import { own } from '../own.ts';
import { HttpError } from '../http/errors.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import { observeWebhookDelivery } from '../metrics/hooks.ts';

function sendJson(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

// ------------------------------------------------------------------------------------------ receiver

export interface WebhookReceiverOptions {
  store: Store;
  /** The connection a URL token belongs to (spec, decrypted credentials, organization). */
  resolveConnection(token: string): Promise<ResolvedConnection | undefined>;
  /** Queues stored events for processing; without it they wait for an EventService's recovery scan. */
  events?: Pick<EventService, 'accept'>;
  /** Route path. Default /webhooks/:token. */
  path?: string;
  /** The public URL senders call (signed_content `url`); default the request's own origin. */
  publicUrl?: string;
  /** Connectors with one URL for all their connections (POST /webhooks/connectors/:connector). */
  connectors?: ConnectorWebhooks;
  /** Where refused deliveries are noted (code, size, address; never the body), per connection or URL. */
  refused?: RefusedDeliveries;
  now?: () => number;
  log?: LogFn;
}

export interface ConnectorWebhooks {
  /** The connector's webhook section, when it declares `url: per_connector`. */
  spec(connector: string): WebhooksSpec | undefined;
  /** The deployment's app-level webhook secret(s) for the connector (TAXBRIDGE_WEBHOOK_<NAME>_SECRET). */
  appSecrets(connector: string): string[];
  /** Active connections of the connector whose tenant setting equals `tenant`. */
  connectionsFor(connector: string, tenant: string): Promise<ResolvedConnection[]>;
}

/** What a delivery carries; its URL and query are worked out only if its authentication reads them. */
class ReceivedDelivery implements IncomingDelivery {
  readonly headers: Record<string, string>;
  readonly method: string;
  #url?: string;
  #query?: URLSearchParams;

  constructor(
    private readonly ctx: Context,
    readonly rawBody: Buffer,
    readonly nowMs: number,
    private readonly publicUrl: string | undefined,
  ) {
    this.headers = flatHeaders(ctx.req.headers);
    this.method = ctx.method;
  }

  /** The URL as the sender called it: the configured public URL, the path and the query exactly as received. */
  get url(): string {
    const ctx = this.ctx;
    return (this.#url ??= `${(this.publicUrl || `${ctx.protocol}://${ctx.host}`).replace(/\/+$/, '')}${ctx.path}${ctx.querystring ? `?${ctx.querystring}` : ''}`);
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.ctx.querystring));
  }
}

const TOKEN_RE = /^[A-Za-z0-9_-]{1,200}$/;

export function createWebhookReceiverRouter(opts: WebhookReceiverOptions): Router {
  const router = createRouter();
  const log = opts.log ?? silentLog;
  const now = opts.now ?? Date.now;

  const incoming = (ctx: Context, rawBody: Buffer): IncomingDelivery => new ReceivedDelivery(ctx, rawBody, now(), opts.publicUrl);
  const answer = (ctx: Context, r: AcceptedDelivery, connector: string, connectionId?: string) => {
    for (const e of r.events) if (e.inserted && e.doc.status === 'pending') opts.events?.accept(e.doc);
    if (r.unrouted > 0) log('warn', 'webhook events for no active connection acknowledged and not applied', { connector, unrouted: r.unrouted, tenants: r.unroutedTenants.slice(0, 20) });
    const first = r.events[0];
    observeWebhookDelivery({ connector, connectionId, status: 200, duplicate: first !== undefined && !first.inserted });
    sendJson(ctx, 200, { received: true, ...(first ? { id: first.doc.id, duplicate: !first.inserted } : {}), events: r.events.length, unrouted: r.unrouted });
  };
  /** `known`: the connector, once the URL named a loaded one (metric labels stay bounded). */
  const refuse = (ctx: Context, e: unknown, fields: Record<string, unknown>, basic: boolean, known: { connector?: string; connectionId?: string; spec?: WebhooksSpec; size?: number }) => {
    const [status, internalCode, message] = receiverError(e);
    const code = publicCode(internalCode); // what the sender, the refused list, metrics and logs see
    if (opts.refused && !isCode(code, 'WEBHOOK_STORE_UNAVAILABLE')) {
      const scope: RefusedScope = known.connectionId ? { connection_id: known.connectionId } : known.connector ? { connector: known.connector } : { unknown_url: true };
      const deliveryId = known.spec ? headerDeliveryId(known.spec, ctx) : undefined;
      opts.refused.record(scope, { at: new Date(now()).toISOString(), status, code, size: known.size ?? announcedSize(ctx), remote_address: remoteAddress(ctx), ...(deliveryId ? { delivery_id: deliveryId } : {}) });
    }
    observeWebhookDelivery({ ...known, status, code });
    if (status === 413) ctx.set('Connection', 'close');
    if (isCode(code, 'WEBHOOK_STORE_UNAVAILABLE')) ctx.set('Retry-After', String(STORE_RETRY_AFTER_S));
    if (basic && status === 401) ctx.set('WWW-Authenticate', 'Basic realm="taxbridge webhooks", charset="UTF-8"');
    if (status >= 500) log('error', 'webhook delivery not accepted', { ...fields, code, reason: message, error: errorMessage(e instanceof Error && e.cause instanceof Error ? e.cause : e) });
    else log('warn', 'webhook delivery refused', { ...fields, status, code });
    sendJson(ctx, status, { type: 'api_error', code, message });
  };

  router.post(opts.path ?? '/webhooks/:token', async (ctx) => {
    const token = String(ctx.params.token ?? '');
    let connectionId: string | undefined;
    let connector: string | undefined;
    let spec: WebhooksSpec | undefined;
    let size: number | undefined;
    let basic = false;
    try {
      const c = TOKEN_RE.test(token) ? await opts.resolveConnection(token) : undefined;
      if (!c) throw new WebhookRequestError(404, 'WEBHOOK_TOKEN_UNKNOWN', 'no connection has this webhook URL');
      connectionId = c.conn.connection_id;
      connector = c.spec.name;
      if (!c.spec.webhooks) throw new WebhookRequestError(404, 'WEBHOOK_NOT_CONFIGURED', `the ${c.spec.name} connector does not receive webhooks`);
      if (c.spec.webhooks.url === 'per_connector') throw new WebhookRequestError(404, 'WEBHOOK_NOT_CONFIGURED', `the ${c.spec.name} connector receives webhooks at /webhooks/connectors/${c.spec.name}, not at a connection's URL`);
      basic = c.spec.webhooks.authentication?.type === 'basic';
      spec = c.spec.webhooks;
      const rawBody = await readRawBody(ctx.req, compiledWebhooks(c.spec.webhooks).maxBodyBytes);
      size = rawBody.length;
      answer(ctx, await acceptDelivery(Object.assign(incoming(ctx, rawBody), { store: opts.store, connection: c })), c.spec.name, connectionId);
    } catch (e) {
      refuse(ctx, e, { connection_id: connectionId }, basic, { connector, connectionId, spec, size });
    }
  });

  router.post('/webhooks/connectors/:connector', async (ctx) => {
    const connector = String(ctx.params.connector ?? '');
    let known: string | undefined;
    let knownSpec: WebhooksSpec | undefined;
    let size: number | undefined;
    let basic = false;
    try {
      const spec = CONNECTOR_RE.test(connector) ? opts.connectors?.spec(connector) : undefined;
      if (!spec) throw new WebhookRequestError(404, 'WEBHOOK_CONNECTOR_UNKNOWN', 'no connector receives webhooks at this URL');
      known = connector;
      knownSpec = spec;
      basic = spec.authentication?.type === 'basic';
      const rawBody = await readRawBody(ctx.req, compiledWebhooks(spec).maxBodyBytes);
      size = rawBody.length;
      const r = await acceptConnectorDelivery(
        Object.assign(incoming(ctx, rawBody), {
          store: opts.store,
          connector,
          spec,
          appSecrets: opts.connectors!.appSecrets(connector),
          connectionsFor: (tenant: string) => opts.connectors!.connectionsFor(connector, tenant),
        }),
      );
      answer(ctx, r, connector);
    } catch (e) {
      refuse(ctx, e, { connector: CONNECTOR_RE.test(connector) ? connector : undefined }, basic, { connector: known, spec: knownSpec, size });
    }
  });
  return router;
}

const CONNECTOR_RE = /^[a-z][a-z0-9_]{0,39}$/;
const CONNECTION_ID_RE = /^[A-Za-z0-9_-]{1,100}$/;

/** Content-Length as announced (a body refused before it was read), when it is a plain number. */
function announcedSize(ctx: Context): number | null {
  const v = ctx.get('content-length');
  return /^\d{1,15}$/.test(v) ? Number(v) : null;
}

function remoteAddress(ctx: Context): string | null {
  const a = ctx.req.socket.remoteAddress;
  return a ? a.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '').slice(0, 64) : null;
}

const eventIdReaders = new WeakMap<WebhooksSpec, Expression | null>();
const DELIVERY_ID = /^[A-Za-z0-9._:@\/+=-]{1,200}$/;

/**
 * The delivery id of a refused delivery, when the spec's event_id is a plain read of a header: the body is
 * not trusted (nor parsed) before the delivery is verified. Only id-like values are kept.
 */
function headerDeliveryId(spec: WebhooksSpec, ctx: Context): string | undefined {
  let reader = eventIdReaders.get(spec);
  if (reader === undefined) {
    const e = spec.event_id && /^\s*headers\./.test(spec.event_id) ? compileExpression(spec.event_id) : undefined;
    reader = e?.isPath ? e : null;
    eventIdReaders.set(spec, reader);
  }
  if (!reader) return undefined;
  try {
    const input = { headers: flatHeaders(ctx.req.headers) };
    const v = reader.readSync(input, input)?.value;
    return typeof v === 'string' && DELIVERY_ID.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function receiverError(e: unknown): [number, string, string] {
  if (e instanceof WebhookRequestError) return [e.status, e.code, e.message];
  if (e instanceof WebhookSignatureError) {
    // No secret configured: a problem on our side; 503 makes the sender retry once it is fixed.
    return [e.code === 'WEBHOOK_SECRET_MISSING' ? 503 : 401, e.code, e.message];
  }
  if (e instanceof BodyError) {
    return e.status === 413 ? [413, 'WEBHOOK_BODY_TOO_LARGE', e.message] : [400, 'WEBHOOK_BODY_INCOMPLETE', e.message];
  }
  return [500, 'INTERNAL', 'the delivery could not be accepted; deliver it again later'];
}

// --------------------------------------------------------------------------------------------- admin

export interface WebhookAdminOptions {
  store: Store;
  /** The admin token, or a check of presented tokens (the server's stored-hash check). */
  adminToken: AdminCredential;
  events?: Pick<EventService, 'replay'>;
  writebacks?: Pick<WritebackService, 'replay'>;
  /** The receiver's record of refused deliveries (GET /admin/webhooks/refused). */
  refused?: Pick<RefusedDeliveries, 'summary'>;
  /** Whether a connector spec of this name is loaded (an unknown one is 404, not an empty record). */
  knownConnector?: (name: string) => boolean;
}

function adminError(ctx: Context, status: number, code: string, message: string, param?: string): void {
  sendJson(ctx, status, { type: 'api_error', code, message, ...(param ? { param } : {}) });
}

/** Shown when a list query gives no limit (the schemas' `default`). */
const DEFAULT_LIMIT = 100;

export function createWebhookAdminRouter(opts: WebhookAdminOptions): Router {
  const router = createAdminRouter(opts.adminToken);
  const handle = (handler: (ctx: Context) => Promise<void>) => async (ctx: Context) => {
    try {
      await handler(ctx);
    } catch (e) {
      // A query outside its schema (adminQuery): 400 naming the parameter, in this router's shape.
      if (isTaxbridgeError(e) && e.code === 'invalid_input') return adminError(ctx, 400, 'validation_errors', e.message, typeof e.details?.field === 'string' ? e.details.field : undefined);
      adminError(ctx, 500, 'internal_server_error', isTaxbridgeError(e) ? e.message : 'an internal error occurred');
    }
  };

  router.get(
    '/events',
    handle(async (ctx) => {
      const q = adminQuery<WebhooksEventsQuery>('webhooks', 'events_query', ctx.query);
      const list = await listEvents(opts.store, { connectionId: q.connection, status: q.status, eventType: q.type, limit: q.limit ?? DEFAULT_LIMIT });
      sendJson(ctx, 200, { data: list.map(eventSummary) });
    }),
  );
  router.get(
    '/events/:id',
    handle(async (ctx) => {
      const doc = await getEvent(opts.store, String(ctx.params.id));
      if (!doc) return adminError(ctx, 404, 'not_found', `no event ${String(ctx.params.id).slice(0, 100)}`);
      sendJson(ctx, 200, { data: doc });
    }),
  );
  router.post(
    '/events/:id/replay',
    handle(async (ctx) => {
      if (!opts.events) return adminError(ctx, 503, 'unavailable', 'event processing is not running in this process');
      const doc = await opts.events.replay(String(ctx.params.id));
      if (!doc) return adminError(ctx, 404, 'not_found', `no event ${String(ctx.params.id).slice(0, 100)}`);
      sendJson(ctx, 202, { data: eventSummary(doc) });
    }),
  );
  router.get(
    '/webhooks/unrouted',
    handle(async (ctx) => {
      const { connector, limit } = adminQuery<WebhooksUnroutedQuery>('webhooks', 'unrouted_query', ctx.query);
      sendJson(ctx, 200, { data: await unroutedSummary(opts.store, connector, limit ?? DEFAULT_LIMIT) });
    }),
  );
  router.get(
    '/webhooks/refused',
    handle(async (ctx) => {
      if (!opts.refused) return adminError(ctx, 503, 'unavailable', 'the webhook receiver is not running in this process');
      const { connection, connector, limit } = adminQuery<WebhooksRefusedQuery>('webhooks', 'refused_query', ctx.query);
      if (connection !== undefined && connector !== undefined) return adminError(ctx, 400, 'validation_errors', 'give connection or connector, not both');
      let scope: RefusedScope;
      if (connection !== undefined) {
        if (!CONNECTION_ID_RE.test(connection) || !(await opts.store.get('connections', connection))) return adminError(ctx, 404, 'not_found', `no connection ${connection.slice(0, 100)}`);
        scope = { connection_id: connection };
      } else if (connector !== undefined) {
        if (opts.knownConnector && !opts.knownConnector(connector)) return adminError(ctx, 404, 'not_found', `no connector ${connector} is loaded`);
        scope = { connector };
      } else {
        scope = { unknown_url: true };
      }
      sendJson(ctx, 200, { data: await opts.refused.summary(scope, limit ?? DEFAULT_LIMIT) });
    }),
  );
  router.get(
    '/writebacks',
    handle(async (ctx) => {
      const q = adminQuery<WebhooksWritebacksQuery>('webhooks', 'writebacks_query', ctx.query);
      const status: JobStatus[] | undefined = q.dead === 'true' || q.dead === '1' ? ['dead'] : q.status;
      const list = await listJobs(opts.store, { connectionId: q.connection, status, documentId: q.document, limit: q.limit ?? DEFAULT_LIMIT });
      sendJson(ctx, 200, { data: list.map(jobSummary) });
    }),
  );
  router.get(
    '/writebacks/:id',
    handle(async (ctx) => {
      const job = await getJob(opts.store, String(ctx.params.id));
      if (!job) return adminError(ctx, 404, 'not_found', `no write-back job ${String(ctx.params.id).slice(0, 100)}`);
      sendJson(ctx, 200, { data: job });
    }),
  );
  router.post(
    '/writebacks/:id/replay',
    handle(async (ctx) => {
      if (!opts.writebacks) return adminError(ctx, 503, 'unavailable', 'write-back is not running in this process');
      const job = await opts.writebacks.replay(String(ctx.params.id));
      if (!job) return adminError(ctx, 404, 'not_found', `no write-back job ${String(ctx.params.id).slice(0, 100)}`);
      sendJson(ctx, 200, { data: jobSummary(job) });
    }),
  );
  return router;
}


// --------------------------------------------------------------------------- calculate_invoice_tax

export interface InvoiceTaxRouterOptions {
  /** The tax API's service: API keys and their organizations. */
  service: Pick<TaxService, 'authenticate' | 'rateLimit'>;
  writebacks: Pick<WritebackService, 'request' | 'store'>;
  /** The organization's connection of this connector (in the environment matching the key's mode). */
  findConnection(organizationId: string, connector: string): Promise<ResolvedConnection | undefined>;
  /** To read the invoice fresh from the system first (when its stream can fetch one record). */
  records?: Pick<RecordSync, 'refetch'>;
  onError?: (err: unknown, ctx: Context) => void;
}

export function createInvoiceTaxRouter(opts: InvoiceTaxRouterOptions): Router {
  const router = createRouter();
  const sphereError = (ctx: Context, status: number, code: string, message: string, param?: string) =>
    sendJson(ctx, status, { type: 'api_error', code, message, ...(param ? { param } : {}) });

  router.post('/tax_api/v1/:connector/calculate_invoice_tax', async (ctx) => {
    try {
      const header = ctx.get('x-api-key') || /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
      const auth = await opts.service.authenticate(header || undefined);
      if (!auth) return sphereError(ctx, 401, 'unauthorized_access', header ? 'the API key is not valid or has been revoked' : 'missing API key: send it in the X-API-KEY header');
      const rl = opts.service.rateLimit(auth);
      if (!rl.ok) {
        ctx.set('Retry-After', String(rl.retryAfter));
        return sphereError(ctx, 429, 'too_many_requests', `rate limit of ${rl.limit} requests per second exceeded for this API key; retry after ${rl.retryAfter} s`);
      }
      const body = await readJsonBody(ctx.req, 64 * 1024);
      checkSchema(wireValidator('admin-api', 'webhooks', 'invoice_tax_request'), body);
      const externalId = (body as WebhooksInvoiceTaxRequest).external_id;
      const connector = String(ctx.params.connector);
      const c = await opts.findConnection(auth.view.org.id, connector);
      if (!c) return sphereError(ctx, 404, 'not_found', `this organization has no ${connector.slice(0, 60)} connection`);
      const stream = c.spec.writeback?.invoice?.stream;
      if (!stream || writebackKindOf(c.spec, stream) !== 'invoice') return sphereError(ctx, 400, 'unsupported_feature', `the ${c.spec.name} connector does not write tax onto invoices`);
      const refused = triggerRefusal(c.spec, 'invoice', 'api');
      if (refused) return sphereError(ctx, 400, 'unsupported_feature', refused);
      if (opts.records && own(c.spec.streams, stream)?.fetch) {
        try {
          const r = await opts.records.refetch(c, stream, externalId);
          if (r.result === 'not_found') {
            // Deleted upstream: tax written onto it before no longer counts (its jobs become voided).
            await opts.writebacks.store.markDeleted(c.conn.connection_id, stream, externalId);
            const gone = await opts.writebacks.request(c, 'invoice', externalId, 'api', { via: 'api' });
            const voided = gone.status === 'voided' ? `; the tax written onto it before is voided (job ${gone.job_id})` : '';
            return sphereError(ctx, 404, 'not_found', `${c.spec.title} has no invoice ${externalId.slice(0, 100)}${voided}`, 'external_id');
          }
        } catch (e) {
          // The system is unreachable: a stored copy (if any) still gets its tax computed and queued.
          if (!(await opts.writebacks.store.getEntity(c.conn.connection_id, stream, externalId))) throw e;
        }
      }
      const out = await opts.writebacks.request(c, 'invoice', externalId, 'api', { wait: true, via: 'api' });
      const answer = { external_id: externalId, status: out.status, reason: out.reason ?? null, calculation_id: out.calculation_id ?? null };
      switch (out.status) {
        case 'applied':
        case 'unchanged':
        case 'no_tax':
        case 'voided':
          return sendJson(ctx, 200, answer);
        case 'skipped':
          return sphereError(ctx, 404, 'not_found', out.reason ?? `no invoice ${externalId.slice(0, 100)}`, 'external_id');
        case 'dead':
          return sphereError(ctx, 502, 'writeback_failed', `tax could not be written onto invoice ${externalId.slice(0, 100)}: ${out.reason ?? 'unknown reason'}`);
        default:
          return sendJson(ctx, 202, { ...answer, status: 'pending', job_id: out.job_id });
      }
    } catch (e) {
      if (e instanceof TaxApiError) return sendJson(ctx, e.status, e.body());
      if (e instanceof BodyError) return sphereError(ctx, e.status, 'validation_errors', e.message);
      if (isTaxbridgeError(e) && (e.code === 'HTTP_TRANSIENT' || e.code === 'HTTP_TIMEOUT')) return sphereError(ctx, 502, 'writeback_failed', e.message);
      // The billing system refused the read (403, 404 of the API itself, bad credentials, an unreadable answer):
      // its problem to report, not ours; the message names the request and status, never a secret.
      if (e instanceof HttpError) return sphereError(ctx, 502, 'upstream_error', `${e.message}${e.hint ? ` (${e.hint})` : ''}`);
      if (isStoreUnavailable(e)) {
        ctx.set('Retry-After', String(STORE_RETRY_AFTER_S));
        return sphereError(ctx, 503, 'storage_unavailable', 'storage is unavailable; retry shortly');
      }
      if (opts.onError) opts.onError(e, ctx);
      else process.stderr.write(`taxbridge calculate_invoice_tax: ${e instanceof Error ? e.message : String(e)}\n`);
      return sphereError(ctx, 500, 'internal_server_error', 'an internal error occurred; the request can be retried');
    }
  });
  return router;
}
