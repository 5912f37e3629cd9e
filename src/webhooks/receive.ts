/**
 * Accepting one webhook delivery: verify its signature over the raw bytes by the connector's scheme, parse
 * it, route it by the spec (event type and id), and store it in the inbox before answering. Pure of koa:
 * the HTTP layer (src/server/webhooks-api.ts) reads the body and turns errors into responses.
 */
import { createHash } from 'node:crypto';
import { TaxbridgeError } from '../errors.ts';
import { compileExpression } from '../expressions/index.ts';
import type { ConnectionContext, SignatureSpec, WebhooksSpec } from '../spec/types.ts';
import type { Store } from '../store/types.ts';
import type { ResolvedConnection } from './connections.ts';
import { WebhookPayloadError } from './errors.ts';
import { eventDocId, insertEvent, storableHeaders, type WebhookEventDoc } from './inbox.ts';
import { WebhookRequestError } from './request-errors.ts';
import { routerFor } from './event-service.ts';
import { compileSignature, webhookSecrets, type CompiledSignature } from './signature.ts';
import { parseWebhookBody } from './body.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Seconds a sender is asked to wait (Retry-After) when the event could not be stored. */
export const STORE_RETRY_AFTER_S = 5;

interface CompiledWebhooks {
  signature: CompiledSignature;
  signatureHeader: string;
  maxBodyBytes: number;
}

const compiled = new WeakMap<WebhooksSpec, CompiledWebhooks>();

/** The spec's webhook section compiled once (signature scheme, limits). */
export function compiledWebhooks(spec: WebhooksSpec): CompiledWebhooks {
  let c = compiled.get(spec);
  if (!c) {
    const sig = spec.signature;
    c = {
      signature: compileSignature(sig),
      signatureHeader: (sig.header ?? (sig.preset === 'standard_webhooks' ? 'webhook-signature' : '')).toLowerCase(),
      maxBodyBytes: spec.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    };
    compiled.set(spec, c);
  }
  return c;
}

// Rendering the secret template is a JSONata evaluation: done once per connection and credentials, not per
// delivery. Keyed by connection id with a fingerprint of what the template can read, so a rotated secret is
// picked up at once even when the lookup returns a new context object for every delivery.
const secretCache = new Map<string, { sig: SignatureSpec; fingerprint: string; secrets: Promise<string[]> }>();
const SECRET_CACHE_MAX = 10_000;

function secretsFor(sig: SignatureSpec, conn: ConnectionContext): Promise<string[]> {
  const fingerprint = JSON.stringify([conn.credentials, conn.settings, conn.environment]);
  const hit = secretCache.get(conn.connection_id);
  if (hit && hit.sig === sig && hit.fingerprint === fingerprint) return hit.secrets;
  const secrets = webhookSecrets(sig, conn);
  if (secretCache.size >= SECRET_CACHE_MAX) secretCache.delete(secretCache.keys().next().value!);
  secretCache.set(conn.connection_id, { sig, fingerprint, secrets });
  secrets.catch(() => secretCache.delete(conn.connection_id));
  return secrets;
}

export interface AcceptedDelivery {
  doc: WebhookEventDoc;
  /** false: the same (connection, event id) was already in the inbox, on disk (a duplicate is as durable as a first delivery). */
  inserted: boolean;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Lower-case header map with repeated headers joined, as signature schemes and routes read them. */
export function flatHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export async function acceptDelivery(input: {
  store: Store;
  connection: ResolvedConnection;
  headers: Record<string, string>;
  rawBody: Buffer;
  nowMs: number;
}): Promise<AcceptedDelivery> {
  const { connection: c, headers, rawBody } = input;
  const spec = c.spec.webhooks!;
  const cw = compiledWebhooks(spec);
  const secrets = await secretsFor(spec.signature, c.conn);
  await cw.signature.verify({ headers, rawBody }, secrets, input.nowMs);

  let text: string;
  let body: unknown;
  try {
    text = UTF8.decode(rawBody);
    body = parseWebhookBody(text, spec);
  } catch {
    throw new WebhookRequestError(400, 'WEBHOOK_BODY_MALFORMED', 'the webhook body is not valid UTF-8 JSON');
  }

  const now = new Date(input.nowMs).toISOString();
  const base = {
    connection_id: c.conn.connection_id,
    organization_id: c.organizationId,
    connector: c.spec.name,
    headers: storableHeaders(headers, cw.signatureHeader),
    raw_body: text,
    received_at: now,
    attempts: 0,
    updated_at: now,
  };
  let doc: WebhookEventDoc;
  try {
    const routed = await routerFor(spec).route({ headers, body, raw: text });
    const ignored = routed.action === 'ignore' || routed.action === 'unmatched';
    doc = {
      ...base,
      id: eventDocId(base.connection_id, routed.event_id),
      event_id: routed.event_id,
      event_type: routed.event_type,
      action: routed.action,
      ...(routed.stream ? { stream: routed.stream } : {}),
      status: ignored ? 'ignored' : 'pending',
      ...(ignored ? { outcome: { action: routed.action, result: 'ignored' }, processed_at: now } : {}),
    };
  } catch (e) {
    // Without an event type or id the delivery cannot be named or de-duplicated: refuse it.
    if (e instanceof WebhookPayloadError && (e.code === 'WEBHOOK_EVENT_TYPE_MISSING' || e.code === 'WEBHOOK_EVENT_ID_MISSING')) throw new WebhookRequestError(400, e.code, e.message);
    if (!(e instanceof TaxbridgeError)) throw e;
    // Named but unusable (no record in it...): kept as failed, with the reason, where an operator sees it.
    const names = await fallbackNames(spec, headers, body, text);
    doc = { ...base, id: eventDocId(base.connection_id, names.id), event_id: names.id, event_type: names.type, action: 'unmatched', status: 'failed', last_error: { code: e.code, message: e.message, at: now } };
  }
  let inserted: boolean;
  try {
    // Resolves only once the event (or, for a duplicate, the original) is on disk; a failed write is not kept.
    inserted = await insertEvent(input.store, doc);
  } catch (e) {
    throw new WebhookRequestError(503, 'WEBHOOK_STORE_UNAVAILABLE', `the event could not be stored; deliver it again in ${STORE_RETRY_AFTER_S} s or later`, { cause: e });
  }
  return { doc, inserted };
}

/** Event id and type of a delivery the router could not route (for the failed inbox entry). */
async function fallbackNames(spec: WebhooksSpec, headers: Record<string, string>, body: unknown, raw: string): Promise<{ id: string; type: string }> {
  const ctx = { headers, body, raw };
  const read = async (source: string | undefined): Promise<string | undefined> => {
    if (!source) return undefined;
    try {
      const v = await compileExpression(source).evaluate(ctx, ctx);
      return v === undefined || v === null || v === '' || typeof v === 'object' ? undefined : String(v);
    } catch {
      return undefined;
    }
  };
  return { id: (await read(spec.event_id)) ?? createHash('sha256').update(raw).digest('hex'), type: (await read(spec.event_type)) ?? 'unknown' };
}
