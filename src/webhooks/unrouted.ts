import { createHash } from 'node:crypto';
import type { Store } from '../store/types.ts';

/**
 * Events that reached a connector's shared webhook URL (or carried a tenant of another connection) and
 * belong to no active connection: acknowledged, never applied, and kept here (one document per connector,
 * tenant and event id, so a redelivery is not counted twice) where status and the admin API count them.
 */
export const UNROUTED = 'webhook_unrouted';

export interface UnroutedEventDoc {
  id: string;
  connector: string;
  /** The tenant the event named (bounded, as text), or null when it named none. */
  tenant: string | null;
  /** The connection whose URL received it, when it came to a per-connection URL. */
  received_by?: string;
  event_id: string;
  event_type: string;
  received_at: string;
}

export const MAX_TENANT_LENGTH = 200;

export function unroutedDocId(connector: string, tenant: string | null, eventId: string): string {
  return `unr_${createHash('sha256').update(connector).update('\u0000').update(tenant ?? '\u0001').update('\u0000').update(eventId).digest('base64url').slice(0, 32)}`;
}

/** Durable before the sender's 2xx, like an inbox event; false for a redelivery. */
export function recordUnrouted(store: Store, doc: Omit<UnroutedEventDoc, 'id'>): Promise<boolean> {
  const id = unroutedDocId(doc.connector, doc.tenant, doc.event_id);
  return store.insertIfAbsent(UNROUTED, id, { id, ...doc });
}

export interface UnroutedSummary {
  connector: string;
  count: number;
  /** The most recent ones, newest first. */
  recent: UnroutedEventDoc[];
}

export async function unroutedSummary(store: Store, connector: string, recent = 20): Promise<UnroutedSummary> {
  const [count, { docs }] = await Promise.all([store.count(UNROUTED, { connector }), store.find<UnroutedEventDoc>(UNROUTED, { where: { connector }, orderBy: { field: 'received_at', desc: true }, limit: Math.max(1, recent) })]);
  return { connector, count, recent: docs.slice(0, recent) };
}
