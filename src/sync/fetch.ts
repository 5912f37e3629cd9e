import { TaxbridgeError } from '../errors.ts';
import { createHttpClient, type HttpClient } from '../http/index.ts';
import type { ConnectionContext, ConnectorSpec } from '../spec/types.ts';
import type { StoredEntity, Store } from '../store/types.ts';
import { attachChildren } from './children.ts';
import { compileStream, evaluate } from './compile.ts';
import { prepareConnection } from './connection.ts';
import { mapCompiled, mappingBindings } from './map.ts';

export interface FetchResult {
  status: 'created' | 'updated' | 'unchanged' | 'failed';
  external_id: string;
  deleted: boolean;
  /** Why the record could not be stored (status failed). */
  reason?: string;
  entity?: StoredEntity;
}

/**
 * Reads one record again by id through the stream's `fetch` request (children and mapping as in a sync)
 * and upserts it. Webhook events with the "refetch" action use it.
 */
export async function fetchRecord(spec: ConnectorSpec, conn: ConnectionContext, store: Store, stream: string, id: string, opts: { http?: HttpClient; signal?: AbortSignal } = {}): Promise<FetchResult> {
  const c = compileStream(spec, stream);
  if (!c.spec.fetch) {
    throw new TaxbridgeError('SYNC_NO_FETCH', `stream ${stream} of ${spec.title} has no \`fetch\` request, so a record cannot be read by id`, {
      hint: `add streams.${stream}.fetch.request to the spec`,
    });
  }
  const ready = prepareConnection(spec, conn);
  const client = opts.http ?? createHttpClient(spec, ready);
  try {
    const res = await client.request(c.spec.fetch.request, { id }, { signal: opts.signal });
    const record = c.fetchRecord ? await evaluate(c.fetchRecord, res.body) : res.body;
    if (record !== null && typeof record === 'object' && !Array.isArray(record)) await attachChildren(c, [record as Record<string, unknown>], client, opts.signal);
    const m = await mapCompiled(c, record, mappingBindings(ready));
    if (!m.ok) {
      if (m.deleted && m.external_id !== undefined) {
        await store.markDeleted(ready.connection_id, stream, m.external_id);
        return { status: 'updated', external_id: m.external_id, deleted: true, entity: await store.getEntity(ready.connection_id, stream, m.external_id) };
      }
      return { status: 'failed', external_id: m.external_id ?? id, deleted: m.deleted, reason: m.reason };
    }
    const r = await store.commitPage({ connectionId: ready.connection_id, stream, entity: c.entity, writes: [{ external_id: m.external_id, data: m.data, raw: record, deleted: m.deleted }] });
    const status = r.created ? 'created' : r.updated ? 'updated' : 'unchanged';
    return { status, external_id: m.external_id, deleted: m.deleted, entity: await store.getEntity(ready.connection_id, stream, m.external_id) };
  } finally {
    if (!opts.http) await client.close();
  }
}
