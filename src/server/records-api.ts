/**
 * The synced records of a connection on the admin API (what the console's Data pages show; a script can
 * page through them the same way):
 *
 *   GET /admin/connections/{id}/records/{stream}?q=&after=&limit=&deleted=   a page in external id order
 *   GET /admin/connections/{id}/records/{stream}/{record}                     one record (mapped data)
 *
 * `q` filters by a case-insensitive substring of the record's id or mapped data; a search reads at most
 * SCAN_LIMIT records per request and answers `next_after` to continue from, so no request walks a whole
 * large stream. Only the canonical (mapped) record is answered, not the upstream raw one.
 */
import type { Context } from 'koa';
import type { Router } from '@koa/router';
import type { ConnectionService } from '../connections/service.ts';
import type { Logger } from '../log/index.ts';
import type { Store, StoredEntity } from '../store/types.ts';
import { TaxbridgeError } from '../errors.ts';
import type { AdminCredential } from './admin-bearer.ts';
import { adminQuery } from './admin-body.ts';
import type { RecordsPageQuery, RecordsRecord } from './admin-api-types.generated.ts';
import { sendError, sendJson } from './http-errors.ts';
import { createAdminRouter } from './routing.ts';

export interface RecordsApiOptions {
  connections: ConnectionService;
  store: Store;
  adminToken: AdminCredential;
  log?: Logger;
}

/** The query's bounds (limit 1..100, q up to 200 characters) are in schemas/admin-api/records.schema.json. */
const DEFAULT_LIMIT = 25;
const SCAN_LIMIT = 5_000;
const PAGE = 250;

function view(e: StoredEntity): RecordsRecord {
  return { external_id: e.external_id, entity: e.entity, stream: e.stream, deleted: e.deleted, first_seen_at: e.first_seen_at, updated_at: e.updated_at, data: e.data };
}

export function createRecordsApiRouter(opts: RecordsApiOptions): Router {
  const router = createAdminRouter(opts.adminToken);

  /** The connection and the stream, when the stream is one of the connection's. */
  const streamOf = async (ctx: Context): Promise<{ connectionId: string; stream: string }> => {
    const doc = await opts.connections.get(String(ctx.params.id));
    const stream = String(ctx.params.stream);
    const streams = Object.values(doc.streams ?? {}).flat();
    if (!streams.includes(stream)) {
      throw new TaxbridgeError('not_found', `connection ${doc.id} has no stream "${stream.slice(0, 100)}"`, { hint: `its streams: ${streams.join(', ') || 'none'}` });
    }
    return { connectionId: doc.id, stream };
  };

  router.get('/connections/:id/records/:stream', async (ctx) => {
    try {
      const { connectionId, stream } = await streamOf(ctx);
      const query = adminQuery<RecordsPageQuery>('records', 'page_query', ctx.query);
      const q = query.q?.trim().toLowerCase() ?? '';
      let after = query.after;
      const limit = query.limit ?? DEFAULT_LIMIT;
      const includeDeleted = query.deleted === 'true';

      let out: StoredEntity[] = [];
      let scanned = 0;
      let more = false;
      if (!q) {
        const page = await opts.store.pageEntities(connectionId, stream, { after, limit: limit + 1, includeDeleted });
        out = page.slice(0, limit);
        scanned = out.length;
        more = page.length > limit;
        after = out.at(-1)?.external_id ?? after;
      } else {
        scan: for (;;) {
          const page = await opts.store.pageEntities(connectionId, stream, { after, limit: PAGE, includeDeleted });
          for (const [i, e] of page.entries()) {
            scanned++;
            after = e.external_id;
            if (e.external_id.toLowerCase().includes(q) || JSON.stringify(e.data).toLowerCase().includes(q)) out.push(e);
            if (out.length === limit || scanned >= SCAN_LIMIT) {
              more = i < page.length - 1 || page.length === PAGE;
              break scan;
            }
          }
          if (page.length < PAGE) break;
        }
      }
      const counts = await opts.store.countEntities(connectionId, stream);
      sendJson(ctx, 200, { data: out.map(view), ...(more && after ? { next_after: after } : {}), scanned, counts });
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  });

  router.get('/connections/:id/records/:stream/:record', async (ctx) => {
    try {
      const { connectionId, stream } = await streamOf(ctx);
      const id = String(ctx.params.record);
      const e = await opts.store.getEntity(connectionId, stream, id);
      if (!e) throw new TaxbridgeError('not_found', `no ${stream} record ${id.slice(0, 100)} in connection ${connectionId}`);
      sendJson(ctx, 200, { data: view(e) });
    } catch (e) {
      sendError(ctx, e, opts.log);
    }
  });

  return router;
}
