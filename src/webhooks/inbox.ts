import { createHash } from 'node:crypto';
import type { Store, Where } from '../store/types.ts';
import type { WebhookAction } from '../spec/types.ts';

/**
 * The durable inbox: every verified delivery becomes one `webhook_events` document, keyed by
 * (connection, event id), written with insertIfAbsent before the sender gets its 2xx. The document then
 * records what processing did: attempts, the last error, the outcome. Schema: schemas/entities/webhook_event.schema.json.
 */

export const EVENTS = 'webhook_events';

export type EventStatus = 'pending' | 'retrying' | 'processed' | 'ignored' | 'failed';

export interface EventError {
  code: string;
  message: string;
  at: string;
}

/** What processing an event did. */
export interface EventOutcome {
  action: WebhookAction | 'unmatched';
  stream?: string;
  record_id?: string;
  /** created | updated | unchanged | deleted | not_stored | stale | status_updated | ignored */
  result: string;
  /** The write-back decision for the record, when the rule asks for one. */
  writeback?: { status: string; job_id?: string; reason?: string };
}

export interface WebhookEventDoc {
  id: string;
  connection_id: string;
  organization_id: string;
  connector: string;
  event_id: string;
  event_type: string;
  action: WebhookAction | 'unmatched';
  stream?: string;
  /** Request headers (lower case), without the signature header and other credentials. */
  headers: Record<string, string>;
  /** The body exactly as received (UTF-8); for one item of a fan-out (`item_index` set), the item's JSON. */
  raw_body: string;
  /** Position of this event in its delivery's `for_each` items (fan-out only). */
  item_index?: number;
  received_at: string;
  status: EventStatus;
  attempts: number;
  next_attempt_at?: string;
  last_error?: EventError;
  outcome?: EventOutcome;
  processed_at?: string;
  updated_at: string;
}

/** The inbox id of an event: stable for (connection, event id), safe in URLs. */
export function eventDocId(connectionId: string, eventId: string): string {
  // One update of the joined text: the same bytes as three (the NUL between keeps any surrogate pairs apart).
  return `evt_${createHash('sha256').update(`${connectionId}\u0000${eventId}`).digest('base64url').slice(0, 32)}`;
}

/** Header names never kept in the inbox (besides the spec's signature header). */
const NEVER_STORED = new Set(['authorization', 'cookie', 'proxy-authorization', 'webhook-signature']);

export function storableHeaders(headers: Record<string, string | undefined>, signatureHeader: string | undefined, secretHeaders: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const sig = signatureHeader?.toLowerCase();
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    if (v === undefined || k === sig || NEVER_STORED.has(k) || secretHeaders.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Stores a new event; false when (connection, event id) is already in the inbox (a duplicate delivery).
 * Either answer means the event is on disk: a duplicate of an event whose write is still in flight waits for
 * it, and is stored as the first delivery if that write failed (see Store.insertIfAbsent).
 */
export function insertEvent(store: Store, doc: WebhookEventDoc): Promise<boolean> {
  return store.insertIfAbsent(EVENTS, doc.id, doc);
}

export async function getEvent(store: Store, id: string): Promise<WebhookEventDoc | undefined> {
  return store.get<WebhookEventDoc>(EVENTS, id);
}

export async function saveEvent(store: Store, doc: WebhookEventDoc): Promise<void> {
  await store.put(EVENTS, doc.id, doc);
}

export interface EventFilter {
  connectionId?: string;
  status?: EventStatus | EventStatus[];
  eventType?: string;
  limit?: number;
}

/** Events newest first. */
export async function listEvents(store: Store, f: EventFilter = {}): Promise<WebhookEventDoc[]> {
  const where: Where = {};
  if (f.connectionId !== undefined) where.connection_id = f.connectionId;
  if (f.status !== undefined) where.status = { in: Array.isArray(f.status) ? f.status : [f.status] };
  if (f.eventType !== undefined) where.event_type = f.eventType;
  const { docs } = await store.find<WebhookEventDoc>(EVENTS, { where, orderBy: { field: 'received_at', desc: true }, ...(f.limit !== undefined ? { limit: f.limit } : {}) });
  return docs;
}

/** An event without its raw body and headers, for listings. */
export function eventSummary(d: WebhookEventDoc): Omit<WebhookEventDoc, 'raw_body' | 'headers'> & { body_bytes: number } {
  const { raw_body, headers: _h, ...rest } = d;
  return { ...rest, body_bytes: Buffer.byteLength(raw_body, 'utf8') };
}
