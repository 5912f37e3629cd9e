/**
 * Accepting one webhook delivery: authenticate it over the raw bytes by the connector's kind (hmac, basic,
 * token, none), parse it, split it into events (`for_each`), name each event's tenant and connection, route
 * each by the spec (event type and id), and store every event in the inbox before answering. Pure of koa:
 * the HTTP layer (src/server/webhooks-api.ts) reads the body and turns errors into responses.
 *
 * Tenants never mix: an event is stored only for a connection whose `tenant_setting` equals the event's
 * tenant (when the spec declares one); any other event is recorded as unrouted (./unrouted.ts) and applied
 * to nothing.
 */
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { TaxbridgeError, publicCode } from '../errors.ts';
import { compileExpression, type Expression } from '../expressions/index.ts';
import type { WebhooksSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';
import { compileAuthentication, type AuthSecrets, type CompiledAuthentication } from './authentication.ts';
import type { ResolvedConnection } from './connections.ts';
import { WebhookPayloadError } from './errors.ts';
import { eventDocId, insertEvent, storableHeaders, type WebhookEventDoc } from './inbox.ts';
import { WebhookRequestError } from './request-errors.ts';
import { routerFor } from './event-service.ts';
import type { RoutableDelivery, RoutedEvent } from './route.ts';
import type { SecretContext } from './signature.ts';
import { parseWebhookBody } from './body.ts';
import { MAX_TENANT_LENGTH, recordUnrouted } from './unrouted.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Most events one delivery may fan out into (spec `max_events`, at most 10,000). */
export const DEFAULT_MAX_EVENTS = 1000;
/** Seconds a sender is asked to wait (Retry-After) when the event could not be stored. */
export const STORE_RETRY_AFTER_S = 5;

interface CompiledWebhooks {
  auth: CompiledAuthentication;
  /** Headers never stored with an event (the signature or credential header). */
  secretHeaders: string[];
  maxBodyBytes: number;
  maxEvents: number;
  forEach?: Expression;
  tenant?: Expression;
}

const compiled = new WeakMap<WebhooksSpec, CompiledWebhooks>();

/** The spec's webhook section compiled once (authentication, fan-out, tenant, limits). */
export function compiledWebhooks(spec: WebhooksSpec): CompiledWebhooks {
  let c = compiled.get(spec);
  if (!c) {
    const auth = compileAuthentication(spec);
    c = {
      auth,
      secretHeaders: auth.secretHeaders,
      maxBodyBytes: spec.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
      maxEvents: Math.min(spec.max_events ?? DEFAULT_MAX_EVENTS, 10_000),
      forEach: spec.for_each ? compileExpression(spec.for_each) : undefined,
      tenant: spec.tenant ? compileExpression(spec.tenant) : undefined,
    };
    compiled.set(spec, c);
  }
  return c;
}

// Rendering secret templates is a JSONata evaluation: done once per connection (or connector app) and
// credentials, not per delivery. Keyed with a fingerprint of what the templates can read, so a rotated
// secret is picked up at once even when the lookup returns a new context object for every delivery.
const secretCache = new Map<string, { spec: WebhooksSpec; fingerprint: string; secrets: Promise<AuthSecrets>; rendered?: AuthSecrets }>();
const SECRET_CACHE_MAX = 10_000;

/** The rendered secrets, or a promise of them while they are first rendered. */
function secretsFor(spec: WebhooksSpec, key: string, ctx: SecretContext): AuthSecrets | Promise<AuthSecrets> {
  const fingerprint = JSON.stringify([ctx.credentials, ctx.settings, ctx.environment, ctx.app ?? null]);
  const hit = secretCache.get(key);
  if (hit && hit.spec === spec && hit.fingerprint === fingerprint) return hit.rendered ?? hit.secrets;
  const secrets = compiledWebhooks(spec).auth.secrets(ctx);
  if (secretCache.size >= SECRET_CACHE_MAX) secretCache.delete(secretCache.keys().next().value!);
  const entry: { spec: WebhooksSpec; fingerprint: string; secrets: Promise<AuthSecrets>; rendered?: AuthSecrets } = { spec, fingerprint, secrets };
  secretCache.set(key, entry);
  secrets.then(
    (rendered) => {
      entry.rendered = rendered;
    },
    () => secretCache.delete(key),
  );
  return secrets;
}

export interface AcceptedEvent {
  doc: WebhookEventDoc;
  /** false: the same (connection, event id) was already in the inbox, on disk (a duplicate is as durable as a first delivery). */
  inserted: boolean;
}

export interface AcceptedDelivery extends AcceptedEvent {
  /** Every event the delivery was split into that belongs to a connection (the first is `doc`). */
  events: AcceptedEvent[];
  /** Events that named no active connection's tenant: acknowledged, recorded, applied to nothing. */
  unrouted: number;
  /** The tenants those events named (null: none), for the log. */
  unroutedTenants: Array<string | null>;
}

/** What the HTTP layer read of the request. */
export interface IncomingDelivery {
  /** Lower-case header names. */
  headers: Record<string, string>;
  rawBody: Buffer;
  nowMs: number;
  /** The HTTP method and the full URL as the sender called it (configured public URL + path + query). */
  method?: string;
  url?: string;
  query?: URLSearchParams;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Lower-case header map with repeated headers joined, as signature schemes and routes read them. */
export function flatHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(raw)) {
    const v = raw[k];
    if (v !== undefined) out[k.toLowerCase()] = typeof v === 'string' ? v : v.join(', ');
  }
  return out;
}

/** One event of a delivery: the whole delivery, or one `for_each` item. */
interface SplitEvent {
  routable: RoutableDelivery;
  /** What the inbox keeps: the delivery's body, or the item's JSON. */
  raw: string;
  index?: number;
}

async function authenticate(spec: WebhooksSpec, key: string, ctx: SecretContext, d: IncomingDelivery): Promise<void> {
  const cw = compiledWebhooks(spec);
  const found = secretsFor(spec, key, ctx);
  const secrets = found instanceof Promise ? await found : found;
  // The delivery itself: its URL and query may be worked out only when read.
  await cw.auth.verify(d, secrets, d.nowMs);
}

function parse(spec: WebhooksSpec, rawBody: Buffer): { text: string; body: unknown } {
  try {
    // ASCII (most bodies) is valid UTF-8 as it is, without a byte order mark: a one-byte copy.
    const text = isAscii(rawBody) ? rawBody.toString('latin1') : UTF8.decode(rawBody);
    return { text, body: parseWebhookBody(text, spec) };
  } catch {
    throw new WebhookRequestError(400, 'WEBHOOK_BODY_MALFORMED', 'the webhook body is not valid UTF-8 JSON');
  }
}

/** The events a delivery carries: itself, or its `for_each` items (bounded by max_events). */
export async function splitDelivery(spec: WebhooksSpec, headers: Record<string, string>, body: unknown, text: string): Promise<SplitEvent[]> {
  const cw = compiledWebhooks(spec);
  if (!cw.forEach) return [{ routable: { headers, body, raw: text }, raw: text }];
  const ctx = { headers, body, raw: text };
  let v: unknown;
  try {
    v = await cw.forEach.evaluate(ctx, ctx);
  } catch (e) {
    throw new WebhookRequestError(400, 'WEBHOOK_BODY_INVALID', `the delivery's events could not be read (\`for_each\`): ${e instanceof Error ? e.message.slice(0, 200) : 'error'}`);
  }
  const items = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
  if (items.length > cw.maxEvents) throw new WebhookRequestError(413, 'WEBHOOK_TOO_MANY_EVENTS', `the delivery carries ${items.length} events; at most ${cw.maxEvents} are accepted in one delivery (webhooks.max_events)`);
  return items.map((item, index) => {
    const raw = JSON.stringify(item ?? null);
    return { routable: { headers, body: undefined, raw, item, index }, raw, index };
  });
}

/** The tenant an event names, as text (strings and finite numbers); undefined when it names none usable. */
export async function tenantOf(cw: CompiledWebhooks, r: RoutableDelivery): Promise<string | undefined> {
  if (!cw.tenant) return undefined;
  let v: unknown;
  try {
    v = await cw.tenant.evaluate(r, r as unknown as Record<string, unknown>);
  } catch {
    return undefined;
  }
  if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
  if (typeof v !== 'string' || v === '' || v.length > MAX_TENANT_LENGTH) return undefined;
  return v;
}

/** The connection's own tenant value (its `tenant_setting`), as text; undefined when it has none. */
export function connectionTenant(spec: WebhooksSpec, settings: Record<string, unknown>): string | undefined {
  if (!spec.tenant_setting || !Object.hasOwn(settings, spec.tenant_setting)) return undefined;
  const v = settings[spec.tenant_setting];
  return (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v)) ? String(v) : undefined;
}

/** A connection's own webhook URL (/webhooks/<token>): authenticated with its secrets. */
export async function acceptDelivery(input: IncomingDelivery & { store: Store; connection: ResolvedConnection }): Promise<AcceptedDelivery> {
  const c = input.connection;
  const spec = c.spec.webhooks!;
  await authenticate(spec, c.conn.connection_id, c.conn, input);
  const { text, body } = parse(spec, input.rawBody);
  const split = await splitDelivery(spec, input.headers, body, text);
  const cw = compiledWebhooks(spec);
  const own = cw.tenant && spec.tenant_setting ? connectionTenant(spec, c.conn.settings) : undefined;
  return storeEvents(input, spec, c.spec.name, split, async (tenant) => {
    // A tenant-routed spec on a per-connection URL: only this connection's own tenant is applied here.
    if (!cw.tenant || !spec.tenant_setting) return [c];
    return own !== undefined && tenant === own ? [c] : [];
  }, c.conn.connection_id);
}

export interface ConnectorDeliveryInput extends IncomingDelivery {
  store: Store;
  connector: string;
  spec: WebhooksSpec;
  /** The deployment's app-level secrets for this connector (empty: none configured). */
  appSecrets: string[];
  /** The active connections of the connector whose tenant setting equals `tenant`. */
  connectionsFor(tenant: string): Promise<ResolvedConnection[]>;
}

/** The connector's shared webhook URL (/webhooks/connectors/<name>): app secret, then routed by tenant. */
export async function acceptConnectorDelivery(input: ConnectorDeliveryInput): Promise<AcceptedDelivery> {
  const spec = input.spec;
  await authenticate(spec, `app:${input.connector}`, { credentials: {}, settings: {}, environment: 'production', app: { webhook_secret: input.appSecrets } }, input);
  const { text, body } = parse(spec, input.rawBody);
  const split = await splitDelivery(spec, input.headers, body, text);
  return storeEvents(input, spec, input.connector, split, (tenant) => input.connectionsFor(tenant));
}

async function storeEvents(
  input: IncomingDelivery & { store: Store },
  spec: WebhooksSpec,
  connector: string,
  split: SplitEvent[],
  connectionsFor: (tenant: string) => Promise<ResolvedConnection[]>,
  receivedBy?: string,
): Promise<AcceptedDelivery> {
  const cw = compiledWebhooks(spec);
  const now = new Date(input.nowMs).toISOString();
  const headers = storableHeaders(input.headers, undefined, cw.secretHeaders);
  const docs: WebhookEventDoc[] = [];
  const unrouted: Array<Parameters<typeof recordUnrouted>[1]> = [];
  for (const ev of split) {
    const tenant = cw.tenant ? await tenantOf(cw, ev.routable) : undefined;
    const targets = !cw.tenant ? await connectionsFor('') : tenant === undefined ? [] : await connectionsFor(tenant);
    if (targets.length === 0) {
      const names = await namesOf(spec, ev.routable);
      unrouted.push({ connector, tenant: tenant ?? null, ...(receivedBy ? { received_by: receivedBy } : {}), event_id: names.id, event_type: names.type, received_at: now });
      continue;
    }
    for (const c of targets) docs.push(await eventDoc(c, spec, ev, headers, now));
  }
  let inserted: boolean[];
  try {
    // Resolves only once every event (or, for a duplicate, the original) is on disk; a failed write is not kept.
    if (docs.length === 1 && unrouted.length === 0) inserted = [await insertEvent(input.store, docs[0]!)];
    else [inserted] = await Promise.all([Promise.all(docs.map((d) => insertEvent(input.store, d))), Promise.all(unrouted.map((u) => recordUnrouted(input.store, u)))]);
  } catch (e) {
    throw new WebhookRequestError(503, 'WEBHOOK_STORE_UNAVAILABLE', `the event could not be stored; deliver it again in ${STORE_RETRY_AFTER_S} s or later`, { cause: e });
  }
  const events = docs.map((doc, i) => ({ doc, inserted: inserted[i]! }));
  return { ...(events[0] ?? { doc: undefined as unknown as WebhookEventDoc, inserted: false }), events, unrouted: unrouted.length, unroutedTenants: unrouted.map((u) => u.tenant) };
}

async function eventDoc(c: ResolvedConnection, spec: WebhooksSpec, ev: SplitEvent, headers: Record<string, string>, now: string): Promise<WebhookEventDoc> {
  let routed: RoutedEvent;
  try {
    routed = await routerFor(spec).route(ev.routable);
  } catch (e) {
    // Without an event type or id a single delivery cannot be named or de-duplicated: refuse it. A fan-out
    // item is kept as failed instead, so the other items of its delivery are not lost.
    if (ev.index === undefined && e instanceof WebhookPayloadError && (e.code === 'WEBHOOK_EVENT_TYPE_MISSING' || e.code === 'WEBHOOK_EVENT_ID_MISSING')) throw new WebhookRequestError(400, e.code, e.message);
    if (!(e instanceof TaxbridgeError)) throw e;
    // Named but unusable (no record in it...): kept as failed, with the reason, where an operator sees it.
    const names = await namesOf(spec, ev.routable);
    const doc = docBase(c, ev, headers, now, names.id);
    doc.event_id = names.id;
    doc.event_type = names.type;
    doc.action = 'unmatched';
    doc.status = 'failed';
    doc.last_error = { code: publicCode(e.code), message: e.message, at: now };
    return doc;
  }
  const ignored = routed.action === 'ignore' || routed.action === 'unmatched';
  const doc = docBase(c, ev, headers, now, routed.event_id);
  doc.event_id = routed.event_id;
  doc.event_type = routed.event_type;
  doc.action = routed.action;
  if (routed.stream) doc.stream = routed.stream;
  doc.status = ignored ? 'ignored' : 'pending';
  if (ignored) {
    doc.outcome = { action: routed.action, result: 'ignored' };
    doc.processed_at = now;
  }
  return doc;
}

/**
 * The fields every inbox event starts with, in the order they are stored (the rest follow in eventDoc):
 * assigned one by one on one object rather than spread from partial ones.
 */
function docBase(c: ResolvedConnection, ev: SplitEvent, headers: Record<string, string>, now: string, eventId: string): WebhookEventDoc {
  const doc = { connection_id: c.conn.connection_id, organization_id: c.organizationId, connector: c.spec.name, headers, raw_body: ev.raw } as WebhookEventDoc;
  if (ev.index !== undefined) doc.item_index = ev.index;
  doc.received_at = now;
  doc.attempts = 0;
  doc.updated_at = now;
  doc.id = eventDocId(doc.connection_id, eventId);
  return doc;
}

/** Event id and type of an event, read leniently (for failed and unrouted entries). */
async function namesOf(spec: WebhooksSpec, r: RoutableDelivery): Promise<{ id: string; type: string }> {
  const read = async (source: string | undefined): Promise<string | undefined> => {
    if (!source) return undefined;
    try {
      const v = await compileExpression(source).evaluate(r, r as unknown as Record<string, unknown>);
      return v === undefined || v === null || v === '' || typeof v === 'object' ? undefined : String(v).slice(0, 500);
    } catch {
      return undefined;
    }
  };
  return { id: (await read(spec.event_id)) ?? createHash('sha256').update(r.raw).digest('hex'), type: (await read(spec.event_type)) ?? 'unknown' };
}
