/**
 * RecordSync over src/sync: a payload record is mapped by the stream's mapping (mapRecord) and committed
 * to the store with its raw form; a refetch reads the record again by id with its children (fetchRecord).
 * An upsert never overwrites a newer stored record with an older payload (webhooks can arrive out of
 * order): when both carry `updated_at`, the older one is skipped as `stale`.
 */
import { TaxbridgeError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { HttpError } from '../http/index.ts';
import { fetchRecord } from '../sync/fetch.ts';
import { mapRecord } from '../sync/map.ts';
import type { ConnectionClients, ResolvedConnection } from './connections.ts';
import type { RecordChange, RecordSync } from './record-sync.ts';

export type FetchOne = (c: ResolvedConnection, stream: string, id: string) => Promise<RecordChange>;

export function createSyncRecords(opts: { store: Store; clients: ConnectionClients; fetchOne?: FetchOne }): RecordSync {
  const { store } = opts;
  return {
    async upsert(c, stream, record) {
      const connId = c.conn.connection_id;
      const m = await mapRecord(c.spec, stream, record, c.conn);
      if (!m.ok) throw new TaxbridgeError('MAPPING_FAILED', `the ${stream} record${m.external_id ? ` ${m.external_id}` : ''} in the event could not be mapped: ${m.reason}`);
      const existing = await store.getEntity(connId, stream, m.external_id);
      if (existing && isOlder(m.data.updated_at, (existing.data as Record<string, unknown>).updated_at)) return { externalId: m.external_id, result: 'stale' };
      const r = await store.commitPage({
        connectionId: connId,
        stream,
        entity: c.spec.streams[stream]!.entity,
        writes: [{ external_id: m.external_id, data: m.data, raw: record, deleted: m.deleted }],
      });
      return { externalId: m.external_id, result: changeOf(r) };
    },
    async refetch(c, stream, id) {
      if (opts.fetchOne) return opts.fetchOne(c, stream, id);
      let r;
      try {
        r = await fetchRecord(c.spec, c.conn, store, stream, id, { http: opts.clients.get(c) });
      } catch (e) {
        // The system no longer has it (deleted since the event was sent): nothing to update.
        if (e instanceof HttpError && e.code === 'HTTP_PERMANENT' && (e.status === 404 || e.status === 410)) return { externalId: id, result: 'not_found' };
        throw e;
      }
      if (r.status === 'failed') throw new TaxbridgeError('MAPPING_FAILED', `${stream} record ${r.external_id} read again from ${c.spec.title} could not be mapped: ${r.reason ?? 'unknown reason'}`);
      return { externalId: r.external_id, result: r.deleted ? 'deleted' : r.status };
    },
  };
}

function isOlder(incoming: unknown, stored: unknown): boolean {
  if (typeof incoming !== 'string' || typeof stored !== 'string') return false;
  const a = Date.parse(incoming);
  const b = Date.parse(stored);
  return Number.isFinite(a) && Number.isFinite(b) && a < b;
}

export function changeOf(r: { created: number; updated: number; unchanged: number; deleted?: number }): RecordChange['result'] {
  if (r.deleted) return 'deleted';
  if (r.created) return 'created';
  if (r.updated) return 'updated';
  return 'unchanged';
}
